"""The present room: everything a finished solve is shown or written as.

Input: a `Results` (or a `Design` for explain/emit, a comparison for the compare page). Output:
results.json and the CSV/Parquet tables (`present.output`), the plain-text / Markdown formulation
(`present.explain`), LP/MPS/IR files (`present.emit`), the HTML report of one solve and the
compare page of many (`present.report`), a comparison's folder and a sweep's CSV/JSON
(`present.studies`). Only the CLI imports this layer; the study and results layers never do.
Errors: `PebdslError` E901 (unknown emit kind), E902 (an output folder that is a file or a
folder of other files); OSError when a file cannot be written.
"""
