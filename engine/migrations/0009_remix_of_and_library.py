# Issue 23: a remix records the job it started from; the style library loses its duplicate Turner
# (shipwreck_turner.jpg was the Minotaur picture again) and gains Vallotton's woodcut and van
# Doesburg's Composition XIII.

import django.db.models.deletion
from django.db import migrations, models


def update_library(apps, schema_editor):
    from engine.studio.style_library import create_bundled_rows, retire_withdrawn_rows

    model = apps.get_model("engine", "LibraryStyle")
    retire_withdrawn_rows(model)
    create_bundled_rows(model)


def restore_library(apps, schema_editor):
    from engine.studio.style_library import WITHDRAWN

    model = apps.get_model("engine", "LibraryStyle")
    model.objects.filter(bundled__in=WITHDRAWN).update(retired=False)
    model.objects.filter(bundled__in=("mauclair_vallotton.jpg", "composition_xiii_van_doesburg.jpg")).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0008_result_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="stylejob",
            name="remix_of",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="remixes", to="engine.stylejob"),
        ),
        migrations.RunPython(update_library, restore_library),
    ]
