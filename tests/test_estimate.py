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


def test_a_batch_and_a_clip_are_estimated_as_the_page_reads_them(owner, owner_client, rq_redis):
    """Issue 23, 4: a batch of 3 was estimated as one job, a 3 s clip as a 10 s one."""
    from engine.models import UserQuota

    one = estimate(owner_client, mode="fast", size="1024", photos="1")
    three = estimate(owner_client, mode="fast", size="1024", photos="3")
    assert (one["jobs"], three["jobs"]) == (1, 3) and three["seconds"] == pytest.approx(3 * one["seconds"])
    unread = estimate(owner_client, mode="video", size="480")         # no clip read yet: 10 s at 24 frames/s
    short = estimate(owner_client, mode="video", size="480", photos="0", frames="72")   # 3 s at 24 frames/s
    assert short["seconds"] < unread["seconds"] / 2 and short["jobs"] == 1
    # In video mode a photo runs in fast mode beside the clips, each clip with its own frames.
    mixed = estimate(owner_client, mode="video", size="480", photos="1", frames=["72", "144"])
    clip_only = estimate(owner_client, mode="video", size="480", photos="0", frames="144")
    photo_only = estimate(owner_client, mode="fast", size="480", photos="1")
    assert mixed["jobs"] == 3
    assert mixed["seconds"] == pytest.approx(short["seconds"] + clip_only["seconds"] + photo_only["seconds"])
    # What a user may submit bounds it: their clips' frames and their batch's files.
    UserQuota.objects.create(user=owner, max_clip_frames=100, max_batch_files=2)
    capped = estimate(owner_client, mode="video", size="480", photos="5", frames=["144", "144", "144"])
    assert capped["jobs"] == 2
    assert capped["seconds"] == pytest.approx(2 * estimate(owner_client, mode="video", size="480", photos="0",
                                                           frames="100")["seconds"])


def test_the_form_opens_at_the_largest_size_the_estimate_puts_within_a_few_seconds():
    from engine.costs.estimates import QUICK_SECONDS, RunTimeEstimator, quick_size

    fresh = RunTimeEstimator([])
    assert quick_size("fast", 256, 1024, fresh) == 1024            # 0.5 s here: the quota is the limit
    largest = quick_size("fast", 256, 8192, fresh)
    assert 1024 < largest < 8192
    assert fresh.model.estimate("fast", FastParams(size=largest), None).seconds <= QUICK_SECONDS
    assert quick_size("classic", 256, 2048, fresh) is None          # never a few seconds: its default size
    # Workers four times slower than the calibration (what finished jobs measured): a smaller size.
    slow = RunTimeEstimator([("fast", 1024, 1, 4 * fresh.estimate("fast", 1024, 1))] * 3)
    assert quick_size("fast", 256, 8192, slow) < largest


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
