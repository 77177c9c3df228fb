"""Classic jobs keep the length they were made with.

Issue 25 changed classic mode's defaults from 10 epochs x 30 steps from the photo to 4 x 10 from
fast mode's result. A job's stored params are read back with from_dict, where a missing key takes
the control's *current* default (0011 says why that matters and recorded the old start); this
records the old length where a classic job's params lack it, so that a requeued or recovered old
job runs, and its page shows, the steps it was made with.
"""

from django.db import migrations

OLD_DEFAULT_LENGTH = {"epochs": 10, "steps_per_epoch": 30}
BATCH = 500


def record_old_length(apps, schema_editor):
    StyleJob = apps.get_model("engine", "StyleJob")
    classic = StyleJob.objects.filter(mode="classic").only("pk", "params").order_by("pk")
    changed = []
    for job in classic.iterator(chunk_size=BATCH):
        params = job.params or {}
        missing = {key: value for key, value in OLD_DEFAULT_LENGTH.items() if key not in params}
        if not missing:
            continue
        job.params = {**params, **missing}
        changed.append(job)
        if len(changed) == BATCH:
            StyleJob.objects.bulk_update(changed, ["params"])
            changed = []
    if changed:
        StyleJob.objects.bulk_update(changed, ["params"])


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0011_classic_init_recorded"),
    ]

    operations = [
        # Backwards: nothing to undo, the old length written out means what the missing keys meant.
        migrations.RunPython(record_old_length, migrations.RunPython.noop),
    ]
