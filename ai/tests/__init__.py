"""Tests of the AI engines and the prompt; none needs a database or a network."""
