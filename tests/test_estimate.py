"""The estimate before running (engine.costs.cost_model, engine.costs.estimates, GET /jobs/estimate/): it grows
with what the job asks, it follows what finished jobs measured on each device, the endpoint is cheap
and refuses nonsense with a message, and a job that fits no live worker's memory is refused."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from engine.costs.cost_model import CostModel, Finished
from engine.jobs import queue, worker_info
from engine.nst import ClassicParams, FastParams

pytestmark = pytest.mark.django_db

DEVICE = "CPU: Test Xeon, 2 cores"


def classic(size: int, epochs: int = 2, steps: int = 10) -> ClassicParams:
    return ClassicParams(size=size, epochs=epochs, steps_per_epoch=steps)


def test_the_model_grows_with_size_and_length():
    model = CostModel()
    small, large = model.estimate("classic", classic(256), None), model.estimate("classic", classic(1024), None)
    assert large.seconds > 4 * small.seconds and large.peak_bytes > small.peak_bytes
    longer = model.estimate("classic", classic(256, epochs=4), None)
    assert 1.5 * small.seconds < longer.seconds < 2.5 * small.seconds
    fast = model.estimate("fast", FastParams(size=1024), None)
    assert fast.seconds < large.seconds / 5


def test_finished_jobs_scale_the_model_for_their_device():
    params = classic(512)
    predicted = CostModel().estimate("classic", params, None)
    slow = [Finished("classic", params.to_dict(), 3 * predicted.seconds, device=DEVICE) for _ in range(3)]
    model = CostModel(slow)
    assert model.estimate("classic", params, None, device=DEVICE).seconds == pytest.approx(3 * predicted.seconds)
    # A worker's first job (it loaded its network) says nothing about what a job costs.
    first = [Finished("classic", params.to_dict(), 50 * predicted.seconds, device=DEVICE, typical=False)] * 5
    assert CostModel(first).estimate("classic", params, None, device=DEVICE).seconds == predicted.seconds


def test_memory_estimates_only_learn_upwards():
    params = classic(512)
    base = CostModel().estimate("classic", params, None).peak_bytes
    lean = [Finished("classic", params.to_dict(), 10, device=DEVICE, peak_bytes=base // 2)] * 3
    assert CostModel(lean).estimate("classic", params, None, device=DEVICE).peak_bytes == base


def estimate(client, **query) -> dict:
    response = client.get(reverse("engine:estimate"), query)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_endpoint_answers_what_the_form_asks(owner_client, rq_redis):
    small = estimate(owner_client, mode="classic", size="256", epochs="2", steps_per_epoch="10")
    large = estimate(owner_client, mode="classic", size="1024", epochs="2", steps_per_epoch="10")
    assert large["seconds"] > small["seconds"] and large["peak_bytes"] > small["peak_bytes"]
    assert small["fits_somewhere"] is True and small["workers"] == 0  # no worker runs: it starts when one does
    portrait = estimate(owner_client, mode="classic", size="1024", width="768", height="1024")
    assert portrait["seconds"] > 0


@pytest.mark.parametrize("query", [{"mode": "watercolour"}, {"mode": "classic", "size": "big"},
                                   {"mode": "classic", "epochs": "100000"}, {}])
def test_the_endpoint_refuses_nonsense_with_a_message(owner_client, rq_redis, query):
    response = owner_client.get(reverse("engine:estimate"), query)
    assert response.status_code == 400 and response.json()["error"]


def test_the_endpoint_runs_a_fixed_number_of_queries(owner_client, rq_redis, make_job,
                                                     django_assert_max_num_queries):
    for size in (64, 96, 128):
        make_job(size=size)
    with django_assert_max_num_queries(6):
        estimate(owner_client, mode="fast", size="512")


@pytest.fixture
def small_worker(rq_redis):
    """A live worker with 1.5 GB to give a job, as one on a small machine describes itself."""
    connection = queue.redis_connection()
    connection.sadd("rq:workers", "rq:worker:small-1")
    connection.hset(worker_info.KEY, "small-1", json.dumps(
        {"device": DEVICE, "precision": "float32", "memory_bytes": int(1.5e9), "at": 0}))
    yield
    connection.srem("rq:workers", "rq:worker:small-1")
    connection.hdel(worker_info.KEY, "small-1")


def test_a_job_too_large_for_every_worker_is_warned_about_and_refused(
        owner_client, small_worker, job_form_data, media_root):
    from engine.models import StyleJob

    answer = estimate(owner_client, mode="classic", size="1024", epochs="1", steps_per_epoch="10")
    assert answer["fits_somewhere"] is False and answer["per_device"][0]["device"] == DEVICE
    smaller = answer["largest_fitting_size"]
    assert smaller and 256 <= smaller < 1024
    assert estimate(owner_client, mode="classic", size=str(smaller))["fits_somewhere"] is True

    response = owner_client.post(reverse("engine:submit"), job_form_data("classic", size="1024"))
    assert response.status_code == 200
    assert f"Please choose {smaller} px or smaller" in response.content.decode()
    assert not StyleJob.objects.exists()
