"""The operator console end to end: the real page in headless Chromium on the sim graph.

Opens the console with its token, runs an oracle episode, takes over mid-skill, jogs the end
effector up from the keyboard (the arm really moves), hands back, lets the planner finish and
labels success; then checks the episode's MCAP (topics, intervention flags, control switches),
`embodied-mm report` (HTML + numbers) and `embodied-mm export`; finally starts a second episode
and kills the whole graph with SIGKILL: that episode's MCAP is still readable.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from teleop_helpers import REPO, TOKEN, ConsoleClient, free_port

from embodied_mm.robots.kinematics import PandaKinematics
from embodied_mm.ros import topics
from embodied_mm.teleop.episode_log import EpisodeLog

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

ARM = [f"panda_joint{i}" for i in range(1, 8)]
MUST_RECORD = {topics.INSTRUCTION, topics.EPISODE, topics.PLAN_PROPOSED, topics.PLAN,
               topics.SKILL_STATUS, topics.COLOR, topics.JOINT_STATES, topics.ARM_TRAJECTORY,
               topics.GRIPPER_TRAJECTORY, topics.TELEOP_TWIST, topics.TELEOP_ACTIVE,
               topics.TELEOP_STEPS, topics.TELEOP_LABEL}


def _tool_z(joints: dict[str, float], kin: PandaKinematics) -> float:
    return float(kin.forward(np.array([joints[j] for j in ARM]))[0][2])


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_operator_session_in_the_browser(browser, ros_env, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from embodied_mm.teleop.access import write_token_file

    session, port = tmp_path / "session", free_port()
    token_file = write_token_file(tmp_path / "token", TOKEN)
    log_path = tmp_path / "launch.log"
    launch = subprocess.Popen(
        [sys.executable, "-m", "embodied_mm.cli", "launch", "launch/teleop_eval.launch.yaml",
         "planner:=oracle", "task:=stack", "seed:=3", f"out_dir:={session}", f"port:={port}",
         f"token_file:={token_file}", "image_hz:=3.0", "camera_hz:=6.0"],
        cwd=REPO, env=ros_env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    log = log_path.read_text
    api = ConsoleClient(port)
    try:
        scene = api.wait_until(lambda s: s["scene"]["task"] == "stack", 90,
                               "the console and the sim's scene", log)["scene"]

        # -- the page, with its token --------------------------------------------------------
        browser.get(api.url)
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: d.find_element(By.ID, "conn").text == "connected")
        wait.until(lambda d: d.execute_script(
            "return document.getElementById('camera').naturalWidth") > 0)
        box = browser.find_element(By.ID, "instruction")
        box.clear()
        box.send_keys(scene["instruction"])
        browser.find_element(By.ID, "run").click()
        WebDriverWait(browser, 60).until(
            lambda d: "running" in d.find_element(By.ID, "skill").text)

        # -- take over mid-skill, jog up, hand back ------------------------------------------
        browser.find_element(By.ID, "takeover").click()
        wait.until(lambda d: d.find_element(By.ID, "mode").text == "operator")
        time.sleep(1.0)  # the interrupted skill reports, the arm settles
        body = browser.find_element(By.TAG_NAME, "body")
        ActionChains(browser).move_to_element(body).key_down("r").pause(2.0).key_up("r") \
            .perform()
        time.sleep(0.5)
        browser.find_element(By.ID, "handback").click()
        wait.until(lambda d: d.find_element(By.ID, "mode").text == "planner")
        api.wait_until(lambda s: s["episode"]["done_s"] is not None, 150,
                       "the planner to finish the task after the hand-back", log)

        # -- label ---------------------------------------------------------------------------
        browser.find_element(By.ID, "note").send_keys("lifted the arm mid-pick")
        browser.find_element(By.ID, "label-success").click()
        api.wait_until(lambda s: s["episode"]["labelled"], 20, "the label", log)
        if os.environ.get("EMBODIED_MM_SCREENSHOTS"):  # README images (docs/img/)
            browser.save_screenshot(os.path.join(os.environ["EMBODIED_MM_SCREENSHOTS"],
                                                 "console.png"))

        # -- the token guards the live server too --------------------------------------------
        assert _status(f"{api.base}/api/state") == 401
        assert _status(f"{api.base}/?token=not-the-token-at-all") == 403
        assert _status(f"{api.base}/api/state", {"Authorization": f"Bearer {TOKEN}"}) == 200

        # -- a second episode, then the whole graph is killed --------------------------------
        assert api.command("reset") == {"ok": True}  # the blocks go back
        time.sleep(2.0)
        assert api.command("run", instruction=scene["instruction"])["episode"] == 2
        api.wait_until(lambda s: any(r["status"] == "running" for r in s["episode"]["steps"]),
                       60, "episode 2's first skill", log)
        time.sleep(2.0)
        pids = [int(p) for p in re.findall(r"started \(pid (\d+)\)", log())]
        for pid in [launch.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        launch.wait(10)
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGINT)
            launch.wait(20)

    index = json.loads((session / "session.json").read_text())
    first, second = index["episodes"]
    assert first["status"] == "finalised" and first["label"] == "success"
    assert first["sim_success"] is True, first
    assert second["status"] == "recording"  # killed before it could be finalised

    # -- episode 1's MCAP ------------------------------------------------------------------------
    log1 = EpisodeLog.read(session / first["file"])
    assert MUST_RECORD <= set(log1.topics), sorted(log1.topics)
    assert [active for _, active in log1.control] == [False, True, False]
    took_over, handed_back = (s for s, active in log1.control[1:])
    preempted = [r for r in log1.step_records if "preempted" in r["decision"]]
    assert preempted and all(r["intervention"] for r in preempted)
    assert log1.label["label"] == "success" and log1.label["note"] == "lifted the arm mid-pick"
    assert log1.steps[-1] == "done()"
    kin = PandaKinematics()
    z_before = _tool_z(log1.latest(log1.joints, took_over + 1.0), kin)
    z_jogged = max(_tool_z(j, kin) for s, j in log1.joints if took_over < s < handed_back)
    assert z_jogged > z_before + 0.05, (z_before, z_jogged)  # 2 s up at 0.1 m/s

    # -- killed mid-episode: still readable ------------------------------------------------------
    log2 = EpisodeLog.read(session / second["file"])
    assert log2.instruction == scene["instruction"]
    assert log2.frames and log2.joints and log2.step_records

    # -- report ----------------------------------------------------------------------------------
    done = subprocess.run([sys.executable, "-m", "embodied_mm.cli", "report", str(session)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    info = json.loads((session / "eval_info.json").read_text())
    row = info["per_episode"][0]
    assert row["label"] == "success" and row["success"] and row["label_agrees_sim"]
    assert row["interventions"] == 1 and 0.0 < row["autonomy"] < 1.0
    assert row["time_to_done_s"] is not None and row["time_to_done_s"] > 0
    assert info["overall"]["n_episodes"] == 1 and info["unlabelled_episodes"] == [2]
    html = (session / "report.html").read_text()
    for part in ("interventions.png", "time_to_done.png", "success_rate.png",
                 "media/episode_0001.webm", "media/episode_0001.jpg"):
        assert part in html and (session / part).stat().st_size > 0
    # The browser plays the episode's video: it decodes its first frame and knows its length.
    browser.get(f"file://{session / 'report.html'}")
    played = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const video = document.createElement("video");
        video.muted = true;
        video.onloadeddata = () => done({duration: video.duration, width: video.videoWidth});
        video.onerror = () => done({error: String(video.error && video.error.code)});
        video.src = "media/episode_0001.webm";""")
    assert "error" not in played and played["duration"] > 0 and played["width"] > 0, played
    if os.environ.get("EMBODIED_MM_SCREENSHOTS"):
        browser.save_screenshot(os.path.join(os.environ["EMBODIED_MM_SCREENSHOTS"],
                                             "report.png"))

    # -- export ----------------------------------------------------------------------------------
    from embodied_mm.data.dataset import PlanDataset

    done = subprocess.run([sys.executable, "-m", "embodied_mm.cli", "export", str(session),
                           "--out", str(tmp_path / "data")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = PlanDataset(tmp_path / "data", "train", kinds=("plan",))
    # One sample per step that succeeded (the interrupted and failed attempts give none).
    ran = [r["step"] for r in log1.step_records]
    targets = [r["target"] for r in data.records]
    # (the take-over may interrupt the very first step, so the samples are an in-order
    # subsequence of the steps run, not necessarily starting with the first one)
    remaining = iter(ran)
    assert targets[-1] == "done()" and all(t in remaining for t in targets), (targets, ran)
    assert data[0].instruction == scene["instruction"] and data[0].done == []
    assert data[len(data) - 1].done == [r["target"] for r in data.records[:-1]]
