"""The explore notebook's map of factory sites, drawn with no network at all: the world's countries
come from a TopoJSON file shipped in the package (`world-110m.json`, Natural Earth 1:110m, see
`world-110m.LICENSE`), the sites from `fleetlab.read.sites.sites()`, one circle each."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

import altair as alt
import polars as pl

from .charts import SVG

SITE = "site"  # the map's selection: click a site (shift-click for more) to drill down


@lru_cache(maxsize=1)
def world() -> str:
    """The countries of the world as TopoJSON text (about 100 KB, sent once with the map). Text, not
    parsed: the chart carries it as one string for the browser to parse, where Altair would otherwise
    copy and check its hundred thousand numbers one by one (0.5 s for every map)."""
    text = files("fleetlab.app").joinpath("world-110m.json").read_text()
    json.loads(text)  # a damaged file fails here, not as a blank map in the browser
    return text


def site_map(sites: pl.DataFrame, *, unplaced: int = 0, width: int = 680, height: int = 400) -> alt.LayerChart:
    """Circles on the world's countries: a site's area by its gateways, its colour by the share of them
    stale or never seen; the view fits the sites (with a margin), not the whole world. Selecting circles
    (`SITE`, on latitude and longitude) is for `mo.ui.altair_chart` and `fleetlab.read.sites.at`."""
    shown = f"{sites.height:,} sites" if sites.height != 1 else "1 site"
    title = f"Factory sites ({shown}; circle: gateways, colour: share stale or never seen)"
    if unplaced:
        title += f" — {unplaced:,} factories without coordinates not shown"
    countries = alt.Data(values=world(), format=alt.DataFormat(type="topojson", feature="countries"))
    sea = alt.Chart(alt.sphere()).mark_geoshape(fill="#e8f1f8", clip=True)
    land = alt.Chart(countries).mark_geoshape(fill="#eceff1", stroke="#b0bec5", strokeWidth=0.5, clip=True)
    pick = alt.selection_point(name=SITE, fields=["latitude", "longitude"], on="click", toggle="event.shiftKey")
    points = (
        alt.Chart(sites.select("latitude", "longitude", "label", "organizations", "factories", "gateways", "silent"))
        .mark_circle(stroke="#37474f", strokeWidth=0.6)
        .encode(
            latitude="latitude:Q",
            longitude="longitude:Q",
            size=alt.Size(
                "gateways:Q",
                title="gateways",
                scale=alt.Scale(range=[12, 420]),
                legend=alt.Legend(format=",d", orient="bottom", tickMinStep=1),  # never "0 1 1 2 2"
            ),
            color=alt.Color(
                "silent:Q",
                title="stale or never seen",
                scale=alt.Scale(domain=[0, 0.5], range=["#2e7d32", "#fdd835", "#c62828"], clamp=True),
                legend=alt.Legend(format=".0%", orient="bottom"),
            ),
            opacity=alt.condition(pick, alt.value(0.75), alt.value(0.2)),
            tooltip=[
                alt.Tooltip("label:N", title="factories"),
                alt.Tooltip("factories:Q", title="factories here", format=","),
                alt.Tooltip("organizations:Q", format=","),
                alt.Tooltip("gateways:Q", format=","),
                alt.Tooltip("silent:Q", title="stale or never seen", format=".1%"),
            ],
        )
        .add_params(pick)
    )
    west, south, east, north = _bounds(sites)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    extent = {"type": "Feature", "properties": {}, "geometry": {"type": "MultiPoint", "coordinates": ring}}
    # as tall as the region is (a band across the world needs no 360 px of empty sea), within limits
    tall = int(min(max(width * (north - south) / max(east - west, 1.0) * 1.25, 220), height))
    return (
        alt.layer(sea, land, points, title=title, usermeta=SVG)
        .project(type="equalEarth", fit=extent)
        .properties(width=width, height=tall)
    )


def _bounds(sites: pl.DataFrame, margin: float = 0.15) -> tuple[float, float, float, float]:
    """West, south, east, north around the sites (plus a margin, at least a few degrees), for the projection
    to fit; the whole world when there are none."""
    if sites.height == 0:
        south, north, west, east = -60.0, 80.0, -170.0, 180.0
    else:
        south, north = sites["latitude"].min(), sites["latitude"].max()
        west, east = sites["longitude"].min(), sites["longitude"].max()
        pad_lat = max((north - south) * margin, 3.0)
        pad_lon = max((east - west) * margin, 5.0)
        south, north = max(south - pad_lat, -85.0), min(north + pad_lat, 85.0)
        west, east = max(west - pad_lon, -180.0), min(east + pad_lon, 180.0)
    return west, south, east, north
