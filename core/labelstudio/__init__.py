"""Label Studio: push a queue's items as tasks (moderation items with the classifier's pre-annotation, or answers to
rate with their conversation), pull the annotations back as labels or ratings, and read and write Label Studio's JSON
export and import files.

- `label_config`: the project's label config (data/labelstudio/) and the names its results carry;
- `client`: the SDK client from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, and errors a person can act on;
- `tasks`: the tasks of a queue (data + predictions), for a push or an import file;
- `ratings`: ratings with error spans as tasks of data/labelstudio/rating.xml, and back;
- `sync`: push and pull against a server.

Reading an export into labels is an importer like the others: core/ingest/labelstudio.py (`import labelstudio`)."""
