"""Reading mail: sources, parsing, matching and applying (the inbound-mail work builds here)."""
