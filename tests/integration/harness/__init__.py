"""Test harness for storegate's integration tests and demo: throwaway PostgreSQL clusters, a
storegate process with a generated configuration, and a raw wire-protocol client for the cases
libpq cannot express (malformed packets, exact SQLSTATEs of startup failures)."""
