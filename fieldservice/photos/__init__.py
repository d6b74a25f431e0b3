"""Photos from the field: resumable uploads, content-addressed storage, processing, access-checked downloads."""
