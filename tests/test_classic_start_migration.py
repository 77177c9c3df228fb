"""Old classic jobs keep the start and the length they were made with once the defaults change
(issue 25: 10 x 30 from the photo became 4 x 10 from fast mode's result): the data migrations write
the old defaults into stored params that lack them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("engine", "0010_job_pictures")
AFTER = ("engine", "0011_classic_init_recorded")
LENGTH_AFTER = ("engine", "0012_classic_length_recorded")


@pytest.fixture
def migrator():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([BEFORE])
    yield executor
    executor = MigrationExecutor(connection)  # a fresh loader: the graph as on disk
    executor.migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_classic_jobs_stored_without_a_start_keep_the_photo_start(migrator, django_user_model):
    owner = django_user_model.objects.create_user("old-timer", password="x")
    StyleJob = migrator.loader.project_state([BEFORE]).apps.get_model("engine", "StyleJob")
    missing = StyleJob.objects.create(owner_id=owner.pk, mode="classic", params={"size": 64}, size=64)
    chosen = StyleJob.objects.create(owner_id=owner.pk, mode="classic", params={"size": 64, "init": "noise"},
                                     size=64)
    fast = StyleJob.objects.create(owner_id=owner.pk, mode="fast", params={"size": 64}, size=64)

    migrator.loader.build_graph()
    migrator.migrate([AFTER])

    from engine.models import StyleJob as Current

    assert Current.objects.get(pk=missing.pk).params == {"size": 64, "init": "content"}
    assert Current.objects.get(pk=missing.pk).engine_params().init == "content"
    assert Current.objects.get(pk=chosen.pk).params["init"] == "noise"
    assert "init" not in Current.objects.get(pk=fast.pk).params  # fast mode has no start to keep


@pytest.mark.django_db(transaction=True)
def test_classic_jobs_stored_without_a_length_keep_the_old_ten_by_thirty(migrator, django_user_model):
    owner = django_user_model.objects.create_user("old-timer", password="x")
    StyleJob = migrator.loader.project_state([BEFORE]).apps.get_model("engine", "StyleJob")
    missing = StyleJob.objects.create(owner_id=owner.pk, mode="classic", params={"size": 64}, size=64)
    half = StyleJob.objects.create(owner_id=owner.pk, mode="classic", params={"size": 64, "epochs": 2}, size=64)
    fast = StyleJob.objects.create(owner_id=owner.pk, mode="fast", params={"size": 64}, size=64)

    migrator.loader.build_graph()
    migrator.migrate([LENGTH_AFTER])

    from engine.models import StyleJob as Current

    old = Current.objects.get(pk=missing.pk)
    assert old.params == {"size": 64, "init": "content", "epochs": 10, "steps_per_epoch": 30}
    params = old.engine_params()
    assert (params.init, params.epochs, params.steps_per_epoch) == ("content", 10, 30)
    assert Current.objects.get(pk=half.pk).params["epochs"] == 2  # a recorded value stays
    assert Current.objects.get(pk=half.pk).params["steps_per_epoch"] == 30
    assert "epochs" not in Current.objects.get(pk=fast.pk).params  # fast mode has no length to keep
