"""Configuration files, validated with pydantic: errors name the file, the field and the problem.
"""


__all__: list[str] = []
