"""The present room: everything a finished solve is shown or written as.

Input: a `Results` (or a `Design` for explain/emit, a comparison for the compare page). Output:
results.json and the CSV/Parquet tables (`present.output`), the plain-text / Markdown formulation
(`present.explain`), LP/MPS/IR files (`present.emit`), the HTML report of one solve and the
compare page of many (`present.report`). Only the CLI and the study room import this layer; the
results layer never does. Errors: `PebdslError` E901 (unknown emit kind), E902 (an output folder
that is a file or a folder of other files); OSError when a file cannot be written.
"""
