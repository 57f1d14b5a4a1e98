"""Screenshots of a run's dataset, description and logged model, and the registered model."""
import json, sys, time, urllib.request
from playwright.sync_api import sync_playwright

BASE = "http://127.0.0.1:5055"
out = sys.argv[1]

def api(path, body=None):
    req = urllib.request.Request(BASE + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))

exp = api("experiments/get-by-name?experiment_name=unetexp")["experiment"]["experiment_id"]
runs = api("runs/search", {"experiment_ids": [exp]})["runs"]
job = [r for r in runs if any(t["key"] == "role" and t["value"] == "job" for t in r["data"]["tags"])][0]
rid = job["info"]["run_id"]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = b.new_page(viewport={"width": 1500, "height": 950})
    page.goto(f"{BASE}/#/experiments/{exp}/runs?workflowType=machine_learning"); time.sleep(8)
    for close in page.locator("[aria-label*='lose']").all():  # the Assistant side panel
        try:
            close.click(timeout=1000)
        except Exception:
            pass
    page.wait_for_selector("text=s0 unet_simple", timeout=60000); time.sleep(2)
    page.screenshot(path=f"{out}/runs-datasets.png")
    page.goto(f"{BASE}/#/experiments/{exp}/runs/{rid}"); time.sleep(6)
    page.screenshot(path=f"{out}/run-page.png", full_page=True)
    page.goto(f"{BASE}/#/models/unet_simple"); time.sleep(5)
    page.screenshot(path=f"{out}/registered-model.png")
    page.goto(f"{BASE}/#/models/unet_simple/versions/1"); time.sleep(5)
    page.get_by_text("Inputs (1)").click(); page.get_by_text("Outputs (1)").click(); time.sleep(1)
    page.screenshot(path=f"{out}/model-version.png", full_page=True)
    b.close()
print("ok", rid)
