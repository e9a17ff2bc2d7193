"""The suiji runtime, in rooms that name their role. From the top down (each room may import the
rooms below it, never one above; a test walks every import to keep it so):

- ``cli/`` — the ``suiji`` command line: parses arguments, calls workflows, prints templates.
- ``server/`` — the running bot: callbacks in, intake, dispatch, the outbox sender, the scheduler,
  and the sandbox page (``suiji demo``: the same app wired to the fake platforms).
- ``workflows/`` — the use cases with their transactions: plans, campaigns, assignments, approvals.
- then ``handlers/`` (outside ``bot/``): the pure decisions workflows ask for;
- libraries that know nothing of the server: ``platforms/`` (the neutral message model and the
  only code that speaks WeCom's and DingTalk's wire formats, fakes of both included), ``draw/``
  (the verifiable draw), ``registry/`` (the registries' sheets in and out, the USCC);
- ``base/`` — what every room stands on: settings and the words people read;
- and below everything, ``storage/`` (outside ``bot/``): models, queries, migrations.
"""
