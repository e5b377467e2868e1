"""The dashboard: server-rendered pages (Jinja2), inline SVG charts, a little JS; every asset ships with the package."""
