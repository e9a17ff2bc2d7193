"""Platform adapters: the only code that knows WeCom's and DingTalk's wire formats and APIs."""
