"""One runner per mode (engine.runners): what each says about its jobs without running them: work
units, wording, result kind, the runner a content kind calls for, and the cost entry. Running them
is tested end to end in test_job_worker.py, test_classic_mode.py, test_fast_mode.py and
test_video_jobs.py."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from engine.models import Mode, StyleJob
from engine.nst import ClassicParams, FastParams, VideoParams, schema
from engine.runners import RUNNERS, runner_for


def test_every_mode_has_a_runner_and_every_runner_a_mode():
    assert set(RUNNERS) == set(schema.MODES) == set(Mode.values)
    assert all(runner.mode == mode for mode, runner in RUNNERS.items())
    with pytest.raises(ValueError, match="No runner for mode 'sketch'"):
        runner_for("sketch")


def test_each_runner_counts_its_own_work_units():
    classic = runner_for(Mode.CLASSIC).work_units(ClassicParams(epochs=4, steps_per_epoch=25))
    assert (classic.groups, classic.units) == (4, 100)  # steps in epochs
    video = runner_for(Mode.VIDEO).work_units(VideoParams(chunk_frames=48), frames=100)
    assert (video.groups, video.units) == (3, 100)  # frames in chunks, the last one partial
    assert runner_for(Mode.VIDEO).work_units(VideoParams()).units == 240  # a clip not read yet: 10 s at 24/s
    fast = runner_for(Mode.FAST).work_units(FastParams())
    assert (fast.groups, fast.units) == (1, 1)


def test_a_photo_in_a_video_submission_runs_in_fast_mode_with_the_same_settings():
    video = runner_for(Mode.VIDEO)
    params = VideoParams(size=320, strength=0.4, preserve_colors=True)
    runner, photo_params = video.for_content("image", params)
    assert runner.mode == Mode.FAST and photo_params == FastParams(size=320, strength=0.4, preserve_colors=True)
    assert video.for_content("video", params) == (video, params)
    assert runner_for(Mode.CLASSIC).for_content("image", ClassicParams())[0].mode == Mode.CLASSIC
    assert "video" not in runner_for(Mode.FAST).content_kinds and "video" in video.content_kinds


def test_only_classic_steps_count_against_the_step_quota():
    assert runner_for(Mode.CLASSIC).quota_steps(ClassicParams(epochs=3, steps_per_epoch=10)) == 30
    assert runner_for(Mode.FAST).quota_steps(FastParams()) == runner_for(Mode.VIDEO).quota_steps(VideoParams()) == 0


def test_each_runner_words_its_progress_as_the_page_always_has():
    job = StyleJob(mode=Mode.CLASSIC, epoch=2, epochs=5, step=40, total_steps=100)
    assert runner_for(Mode.CLASSIC).progress_text(job) == "Epoch 2 of 5, step 40 of 100"
    assert runner_for(Mode.CLASSIC).progress_text(job, group=3, unit=61) == "Epoch 3 of 5, step 61 of 100"
    clip = StyleJob(mode=Mode.VIDEO, epoch=2, epochs=5, step=120, total_steps=240)
    assert runner_for(Mode.VIDEO).progress_text(clip) == "Frame 120 of 240"
    assert runner_for(Mode.VIDEO).progress_text(clip, fps=11.52) == "Frame 120 of 240 · stylising 11.5 frames/s"
    assert runner_for(Mode.FAST).progress_text(StyleJob(mode=Mode.FAST)) == "Stylising"
    assert runner_for(Mode.FAST).rate_text(3.0) == ""
    assert runner_for(Mode.CLASSIC).group_label(3) == "Epoch 3"
    rendered = Template("{% load runners %}{{ job|progress_text }} {% with r=job|runner %}{{ r.unit }}{% endwith %}")
    assert rendered.render(Context({"job": clip})) == "Frame 120 of 240 frame"


def test_each_runner_names_its_result_kind():
    assert {mode: runner.result_kind for mode, runner in RUNNERS.items()} == {
        Mode.CLASSIC: "image", Mode.FAST: "image", Mode.VIDEO: "video"}


def test_the_cost_of_a_run_grows_with_its_work():
    dims = (768, 1024)
    classic = runner_for(Mode.CLASSIC)
    short, long = ClassicParams(epochs=1, steps_per_epoch=10), ClassicParams(epochs=4, steps_per_epoch=50)
    assert classic.seconds(long, dims, 200) > classic.seconds(short, dims, 10) > 0
    video = runner_for(Mode.VIDEO)
    assert video.seconds(VideoParams(), dims, 480) > video.seconds(VideoParams(), dims, 240) > 0
    # A video's peak memory is fast mode's for one frame: frames go one at a time.
    assert video.peak_bytes(VideoParams(), dims, "float32") == runner_for(Mode.FAST).peak_bytes(FastParams(), dims,
                                                                                               "float32")
    assert classic.memory_advice and not video.memory_advice


def test_the_time_left_never_rises_more_than_a_third_and_follows_steady_figures():
    """Issue 23: a classic page showed 38 s -> 18 s -> 27 s. The reporter's smoother takes the runner's
    raw figures (here that sequence, then steady ones, one a second) and shows each within a third
    above the last one shown; steady figures are reached."""
    from engine.runners.progress import MAX_ETA_RISE, EtaSmoother

    now = [0.0]
    smooth = EtaSmoother(clock=lambda: now[0])
    shown = []
    for raw in (38.0, 18.0, 27.0, 27.0, 60.0, 12.0, 30.0):
        shown.append(smooth(raw))
        now[0] += 1.0
    assert all(later <= earlier * MAX_ETA_RISE + 1e-9 for earlier, later in zip(shown, shown[1:], strict=False))
    assert shown[0] >= shown[1] >= shown[2]  # the bounce (18 s, then 27 s) is gone
    for raw in range(20, 0, -1):  # a run whose figures are right: 20 s left, counted down each second
        last = smooth(float(raw))
        now[0] += 1.0
    assert abs(last - 1.0) < 1.5
    # A group's end (the runner's considered figure) is taken at once, within the same bound.
    assert smooth(0.9, considered=True) == pytest.approx(0.9)
    assert smooth(None) is None
