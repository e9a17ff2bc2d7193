"""The registries as the staff keep them: sheets (CSV / Excel) in and out, validated row by row."""
