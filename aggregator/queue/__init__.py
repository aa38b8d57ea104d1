"""The durable ingest queue: adds, syncs, refreshes and link checks as jobs in the database.

jobs      every query of the job table, leases, retries, per-host politeness slots
runner    the worker loop: claims jobs, renews leases, runs them with bounded concurrency
pipeline  the jobs' bodies: fetch -> extract -> sanitise -> store, and adding work
health    link health: is the original page still there?
"""
