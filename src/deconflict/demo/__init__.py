"""demo: the Raqqa 2015 scenario as data, and the report (Markdown, GeoJSON and a PNG map) that a
run of it produces. A scenario's steps are ``scenario``'s types, read from its file by
``scenario_document``; the runner that plays them through the hub lives in ``runner``."""
