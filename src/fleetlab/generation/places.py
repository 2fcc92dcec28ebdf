"""Real places per country, for factory sites and headquarters: a name, coordinates and a time zone
that belong together, so a generated factory in "Toyokawa" sits at Toyokawa on the map and keeps
Asia/Tokyo's hours.

Faker's geo provider lists about 970 real places with country and time zone; for the countries of
Faker locales it lists none of, FALLBACK holds a few industrial cities each. A place whose zone is not
one Faker gives its country (a handful) is left out, so a site's zone is always one of its locale's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class Place(NamedTuple):
    name: str
    latitude: float
    longitude: float
    timezone: str


# (name, latitude, longitude, zone) for countries Faker's list has no place of
FALLBACK: dict[str, list[tuple[str, float, float, str]]] = {
    "AE": [
        ("Dubai", 25.2048, 55.2708, "Asia/Dubai"),
        ("Abu Dhabi", 24.4539, 54.3773, "Asia/Dubai"),
        ("Sharjah", 25.3463, 55.4209, "Asia/Dubai"),
        ("Jebel Ali", 25.0110, 55.0610, "Asia/Dubai"),
    ],
    "AL": [
        ("Tirana", 41.3275, 19.8187, "Europe/Tirane"),
        ("Durrës", 41.3246, 19.4565, "Europe/Tirane"),
        ("Elbasan", 41.1125, 20.0822, "Europe/Tirane"),
    ],
    "BH": [
        ("Manama", 26.2285, 50.5860, "Asia/Bahrain"),
        ("Muharraq", 26.2572, 50.6119, "Asia/Bahrain"),
        ("Sitra", 26.1547, 50.6206, "Asia/Bahrain"),
    ],
    "CY": [
        ("Nicosia", 35.1856, 33.3823, "Asia/Nicosia"),
        ("Limassol", 34.7071, 33.0226, "Asia/Nicosia"),
        ("Larnaca", 34.9229, 33.6233, "Asia/Nicosia"),
    ],
    "GR": [
        ("Athens", 37.9838, 23.7275, "Europe/Athens"),
        ("Thessaloniki", 40.6401, 22.9444, "Europe/Athens"),
        ("Patras", 38.2466, 21.7346, "Europe/Athens"),
        ("Volos", 39.3622, 22.9422, "Europe/Athens"),
        ("Heraklion", 35.3387, 25.1442, "Europe/Athens"),
    ],
    "HU": [
        ("Budapest", 47.4979, 19.0402, "Europe/Budapest"),
        ("Győr", 47.6875, 17.6504, "Europe/Budapest"),
        ("Debrecen", 47.5316, 21.6273, "Europe/Budapest"),
        ("Kecskemét", 46.8964, 19.6897, "Europe/Budapest"),
        ("Miskolc", 48.1035, 20.7784, "Europe/Budapest"),
    ],
    "IS": [
        ("Reykjavík", 64.1466, -21.9426, "Atlantic/Reykjavik"),
        ("Akureyri", 65.6885, -18.1262, "Atlantic/Reykjavik"),
        ("Hafnarfjörður", 64.0671, -21.9377, "Atlantic/Reykjavik"),
    ],
    "JO": [
        ("Amman", 31.9454, 35.9284, "Asia/Amman"),
        ("Zarqa", 32.0728, 36.0880, "Asia/Amman"),
        ("Irbid", 32.5556, 35.8500, "Asia/Amman"),
        ("Aqaba", 29.5267, 35.0078, "Asia/Amman"),
    ],
    "LI": [
        ("Vaduz", 47.1410, 9.5209, "Europe/Vaduz"),
        ("Schaan", 47.1651, 9.5097, "Europe/Vaduz"),
        ("Balzers", 47.0667, 9.5000, "Europe/Vaduz"),
    ],
    "LU": [
        ("Luxembourg", 49.6116, 6.1319, "Europe/Luxembourg"),
        ("Esch-sur-Alzette", 49.4958, 5.9806, "Europe/Luxembourg"),
        ("Differdange", 49.5242, 5.8914, "Europe/Luxembourg"),
    ],
    "LV": [
        ("Riga", 56.9496, 24.1052, "Europe/Riga"),
        ("Daugavpils", 55.8714, 26.5161, "Europe/Riga"),
        ("Liepāja", 56.5047, 21.0108, "Europe/Riga"),
    ],
    "NP": [
        ("Kathmandu", 27.7172, 85.3240, "Asia/Kathmandu"),
        ("Biratnagar", 26.4525, 87.2718, "Asia/Kathmandu"),
        ("Birgunj", 27.0104, 84.8770, "Asia/Kathmandu"),
    ],
    "SI": [
        ("Ljubljana", 46.0569, 14.5058, "Europe/Ljubljana"),
        ("Maribor", 46.5547, 15.6459, "Europe/Ljubljana"),
        ("Celje", 46.2397, 15.2677, "Europe/Ljubljana"),
    ],
}


@lru_cache(maxsize=64)
def places(country_code: str, zones: tuple[str, ...]) -> tuple[Place, ...]:
    """The real places of a country (ISO alpha-2) whose time zone is one of `zones`, in a stable order.
    Empty when neither Faker nor FALLBACK knows one."""
    from faker.providers.geo import Provider

    found = [
        Place(name, float(lat), float(lon), tz)
        for lat, lon, name, cc, tz in Provider.land_coords
        if cc == country_code and tz in zones
    ]
    found += [Place(*p) for p in FALLBACK.get(country_code, ()) if p[3] in zones]
    return tuple(sorted(set(found)))
