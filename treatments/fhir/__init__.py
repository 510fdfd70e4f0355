"""FHIR R4: the mappers (mappers/), the read and search API, and the bulk export."""
