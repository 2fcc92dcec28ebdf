"""Layer 2, generation: the one place a spec becomes a fleet (`fleets.plan`, `fleets.generate`).

fleets     the front door: the original seed's rows or a generator plan
acme       the platform's own seed, value for value
generator  organizations and factories, and `FleetPlan` (gateways chunk by chunk)
gateways   one chunk of generated gateways
pools      Faker pools per locale and the fixed vocabularies
hashing    keyed 64-bit hashing on numpy arrays
keyed      keyed UUIDs and passwords (hashlib; what the loader needs without numpy)
times      keyed time columns relative to as_of
columns    vectorised UUID, base64 and fixed-width string columns
"""
