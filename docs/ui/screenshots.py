"""docs/ui screenshots: a new user's way from the README (experiment list, unetexp, the
Model training switch once, which the browser keeps), then the run, compare, report and
registry pages. Not a test; needs Chromium (Debian's `chromium`) and `pip install playwright`
(no browser download: it drives /usr/bin/chromium). Usage, with `mlflow ui` on port 5055
over a store holding one sweep, its report and a registered `unet_best`:

    python docs/ui/screenshots.py OUT_FOLDER table,run,compare,report,model 12

(the last number: mouse-wheel steps that scroll report.html to its verdicts). Run it from
the checkout whose store `mlflow ui` serves, with any Python that has playwright (it needs
neither unetexp nor mlflow; a separate venv is fine). On a busy machine the first run after
`mlflow ui` starts may time out on a click ("<html> intercepts pointer events"): run it
again. LOOK at every PNG: no path of the machine but the checkout's may show."""
import json, re, sys, time, urllib.request
from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

def dismiss(page):
    """The 'Got it' tip and the MLflow Assistant side panel, when they show."""
    for name in ("Got it",):
        try:
            page.get_by_role("button", name=name).click(timeout=2000); time.sleep(0.5)
        except Exception:
            pass
    try:
        panel = page.get_by_text("MLflow Assistant").first
        if panel.is_visible():
            box = panel.bounding_box()
            # the panel's close button: the last button on the panel's header row
            buttons = [b for b in page.get_by_role("button").all()
                       if (bb := b.bounding_box()) and abs(bb["y"] - box["y"]) < 25 and bb["x"] > box["x"]]
            if buttons:
                buttons[-1].click(timeout=2000); time.sleep(1)
    except Exception as e:
        print("dismiss:", str(e)[:100])

BASE = "http://127.0.0.1:5055"
out = sys.argv[1]
steps = sys.argv[2].split(",") if len(sys.argv) > 2 else ["table", "run", "compare", "report", "model"]

def api(path, body=None):
    req = urllib.request.Request(BASE + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))

exp = api("experiments/get-by-name?experiment_name=unetexp")["experiment"]["experiment_id"]
runs = api("runs/search", {"experiment_ids": [exp], "max_results": 100})["runs"]
tag = lambda r, k: next((t["value"] for t in r["data"].get("tags", []) if t["key"] == k), None)
parent = next(r for r in runs if tag(r, "role") == "sweep")["info"]["run_id"]
children = [r["info"]["run_id"] for r in runs if tag(r, "mlflow.parentRunId") == parent]
final = next(r for r in runs if r["info"]["run_name"].startswith("s0 unet_best"))["info"]["run_id"]

with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    ctx = b.new_context(viewport={"width": 1680, "height": 900})
    page = ctx.new_page()
    # as the README says: the UI's home, the experiment, "Model training" once
    page.goto(BASE); time.sleep(6)
    page.get_by_text("unetexp", exact=True).first.click(); time.sleep(5)
    dismiss(page)
    page.get_by_text("Model training").first.click(timeout=10000); time.sleep(5)
    dismiss(page)
    if "table" in steps:
        page.get_by_role("button", name="Columns").click(timeout=5000); time.sleep(1)
        box = page.get_by_placeholder("Search columns")
        def tick(name):
            titles = page.locator(".du-bois-light-tree-title").filter(has_text=re.compile(f"^{re.escape(name)}$"))
            print(name, titles.count())
            titles.first.click(timeout=5000); time.sleep(0.5)
        for name in ["Source", "Models"]:
            tick(name)
        for name in ["test_accuracy", "test_dice", "summary/best_test_dice", "model.depth", "seed"]:
            box.fill(name); time.sleep(1.5)
            tick(name)
        page.keyboard.press("Escape"); time.sleep(1)
        page.locator("button[data-component-id*='runnamecellrenderer']").first.click(timeout=5000)
        time.sleep(2)
        page.screenshot(path=f"{out}/runs-table.png")
    if "run" in steps:
        page.goto(f"{BASE}/#/experiments/{exp}/runs/{final}"); time.sleep(8); dismiss(page)
        page.screenshot(path=f"{out}/run-page.png")
        page.goto(f"{BASE}/#/experiments/{exp}/runs/{final}/model-metrics"); time.sleep(8); dismiss(page)
        page.get_by_placeholder("Search metric charts").fill("_l"); time.sleep(3)
        page.screenshot(path=f"{out}/run-charts.png")
    if "compare" in steps:
        ids = json.dumps(children)
        page.goto(f"{BASE}/#/compare-runs?runs={ids}&experiments=[\"{exp}\"]"); time.sleep(10); dismiss(page)
        metrics = page.get_by_text("Metrics:", exact=True).locator("xpath=following-sibling::*[1]")
        try:
            page.get_by_text("train_accuracy", exact=True).first.locator("xpath=following-sibling::*[1]").click(timeout=3000)
        except Exception as e:
            print("chip", str(e)[:150])
        time.sleep(1)
        for name in ("test_accuracy", "test_dice"):
            metrics.click(); page.keyboard.type(name); time.sleep(1); page.keyboard.press("Enter"); time.sleep(1)
        page.keyboard.press("Escape"); time.sleep(3)
        page.screenshot(path=f"{out}/compare.png")
    if "report" in steps:
        page.goto(f"{BASE}/#/experiments/{exp}/runs/{parent}"); time.sleep(8); dismiss(page)
        page.screenshot(path=f"{out}/parent-page.png")
        page.goto(f"{BASE}/#/experiments/{exp}/runs/{parent}/artifacts/sweep_summary.csv"); time.sleep(8); dismiss(page)
        page.screenshot(path=f"{out}/sweep-summary.png")
        page.get_by_text("report", exact=True).first.click(); time.sleep(2)
        page.get_by_text("report.html", exact=True).first.click(); time.sleep(8)
        print([f.url[:60] for f in page.frames])
        print("iframes", page.locator("iframe").count())
        page.mouse.move(930, 650)
        for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 12):
            page.mouse.wheel(0, 200); time.sleep(0.3)
        time.sleep(2)
        page.screenshot(path=f"{out}/report-in-artifacts.png")
    if "model" in steps:
        page.goto(f"{BASE}/#/models/unet_best/versions/1"); time.sleep(8); dismiss(page)
        page.screenshot(path=f"{out}/model-version.png", full_page=True)
    b.close()
print("ok", parent, final, children)
