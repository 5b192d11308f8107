"""Labels from people and rules: import, export, annotation, agreement."""
