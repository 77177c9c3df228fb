"""Classic jobs keep the start they were made with.

A job's stored params are read back with from_dict, where a missing key takes the control's
*current* default. Issue 25 is to change classic mode's default start from the photo ("content")
to fast mode's result ("fast") once its bench confirms it; a classic job stored without an "init"
key would then change its meaning (on a requeue, a recovery, or the job page's table of settings).
Jobs made through the form always stored it; rows made otherwise may not have: they get the
default of their time written in now, so that the switch needs no migration of its own.
"""

from django.db import migrations

OLD_DEFAULT_INIT = "content"
BATCH = 500


def record_old_start(apps, schema_editor):
    StyleJob = apps.get_model("engine", "StyleJob")
    missing = (StyleJob.objects.filter(mode="classic").exclude(params__has_key="init")
               .only("pk", "params").order_by("pk"))
    changed = []
    for job in missing.iterator(chunk_size=BATCH):
        job.params = {**(job.params or {}), "init": OLD_DEFAULT_INIT}
        changed.append(job)
        if len(changed) == BATCH:
            StyleJob.objects.bulk_update(changed, ["params"])
            changed = []
    if changed:
        StyleJob.objects.bulk_update(changed, ["params"])


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0010_job_pictures"),
    ]

    operations = [
        # Backwards: nothing to undo, "content" written out means what the missing key meant.
        migrations.RunPython(record_old_start, migrations.RunPython.noop),
    ]
