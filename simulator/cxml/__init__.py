"""Pure cXML protocol code: parsing, DTD validation, reading requests and building documents.

Nothing here imports Flask; everything takes and returns plain values.
"""
