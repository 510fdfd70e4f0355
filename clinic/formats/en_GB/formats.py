"""British formats, but a date input shows its value as ISO 8601 (YYYY-MM-DD).

An <input type="date"> takes only that form as its value (the browser shows it in the user's
locale); en-GB's first input format, dd/mm/yyyy, left such inputs blank and is invalid HTML.
Typed dd/mm/yyyy dates are still read.
"""

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"]
