"""base: what every layer stands on. Guards for untrusted files, atomic writes, where bundled
files and caches live, and settings values checked before use. Imports nothing of mnistdesk."""
