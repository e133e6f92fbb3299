"""Requirements catalog: utilities, programs, product types, documents and the rules tying them.

Data lives in `catalog/data/*.toml`; `load_catalog()` validates it and `requirements()` evaluates
it for one project. No Flask, database or broker imports here.
"""

from catalog.evaluate import Alert, Requirement, Requirements, default_catalog, requirements
from catalog.load import CatalogError, load_catalog
from catalog.model import (
    APPLICATIONS, FACTS, GATES, NOTICE_TYPES, STATUSES, Catalog, DocType, Form, PermitSet, ProductType,
    Program, Rule, Utility,
)

__all__ = [
    "APPLICATIONS", "FACTS", "GATES", "NOTICE_TYPES", "STATUSES", "Alert", "Catalog", "CatalogError", "DocType",
    "Form", "PermitSet", "ProductType", "Program", "Requirement", "Requirements", "Rule",
    "Utility", "default_catalog", "load_catalog", "requirements",
]
