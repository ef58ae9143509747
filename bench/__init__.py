"""Benchmarks: Inspiration Radar against Scrapy and urlwatch on a synthetic site (see README.md)."""
