"""Shard formats: Parquet text shards (:mod:`text_schema`, :mod:`text_writer`) and Arrow IPC
token shards."""
