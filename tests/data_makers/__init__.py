"""Generators of test inputs (images, scenes) written into a test's tmp_path or built in memory."""
