"""demo: the Raqqa 2015 scenario as data, and the report (Markdown, GeoJSON and a PNG map) that a
run of it produces. The runner that plays a scenario through the hub lives in ``runner``."""
