#!/usr/bin/env bash
# The scan step of the modelward composite action (action.yml). It runs the scan without
# letting a failing gate stop the job yet: the exit code goes to $GITHUB_OUTPUT for the last
# step, so the SARIF upload and the job summary still happen on a failing scan.
#
# Environment: MW_ARGS, MW_CONFIG, MW_OUTPUT_DIR, MW_FORMATS, MW_FAIL_ON, MW_WAIVERS,
# MW_BASELINE, MW_EVIDENCE_PACK, MW_EVIDENCE_KEY (the action's inputs); GITHUB_OUTPUT, GITHUB_STEP_SUMMARY (set by the runner);
# MODELWARD_BIN (the command to run, default `modelward`; the tests use `python -m scanner`);
# MW_PYTHON (default `python`, the interpreter setup-python installed).
set -uo pipefail

read -r -a mw <<< "${MODELWARD_BIN:-modelward}"
read -r -a py <<< "${MW_PYTHON:-python}"
out="${MW_OUTPUT_DIR:-modelward-results}"
args=(scan -o "$out" --format "${MW_FORMATS:-json,sarif,junit}")
if [ -n "${MW_CONFIG:-}" ]; then args+=(-c "$MW_CONFIG"); fi
if [ -n "${MW_FAIL_ON:-}" ]; then args+=(--fail-on "$MW_FAIL_ON"); fi
if [ -n "${MW_WAIVERS:-}" ]; then args+=(--waivers "$MW_WAIVERS"); fi
if [ -n "${MW_BASELINE:-}" ]; then args+=(--baseline "$MW_BASELINE"); fi
# The evidence pack is signed by the workflow's own OIDC identity (Sigstore keyless) unless a
# key file is given; auditors then pin that identity when they verify (docs/evidence.md).
if [ -n "${MW_EVIDENCE_PACK:-}" ]; then
  args+=(--evidence-pack "$MW_EVIDENCE_PACK")
  if [ -n "${MW_EVIDENCE_KEY:-}" ]; then args+=(--evidence-key "$MW_EVIDENCE_KEY")
  else args+=(--evidence-keyless); fi
fi
# Extra arguments are split on whitespace only: the input is never evaluated by a shell.
read -r -a extra <<< "${MW_ARGS:-}"

code=0
"${mw[@]}" "${args[@]}" ${extra[@]+"${extra[@]}"} || code=$?

outputs="${GITHUB_OUTPUT:-/dev/null}"
echo "exit-code=$code" >> "$outputs"
if [ -f "$out/results.json" ]; then echo "results=$out/results.json" >> "$outputs"; fi
if [ -n "${MW_EVIDENCE_PACK:-}" ] && [ -f "$MW_EVIDENCE_PACK" ]; then
  echo "evidence-pack=$MW_EVIDENCE_PACK" >> "$outputs"
fi
if [ -f "$out/results.sarif" ]; then
  echo "sarif=$out/results.sarif" >> "$outputs"
  # GitHub code scanning does not honour SARIF `suppressions`: a waived result would open an
  # alert. Upload a copy without suppressed results; results.sarif keeps them for everyone else.
  upload="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelward-upload-$$.sarif"
  if "${py[@]}" - "$out/results.sarif" "$upload" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as fh:
    log = json.load(fh)
for run in log["runs"]:
    run["results"] = [r for r in run["results"] if not r.get("suppressions")]
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump(log, fh, ensure_ascii=False)
PY
  then
    echo "upload-sarif=$upload" >> "$outputs"
  fi
fi

# The job summary: modelward's Markdown report when this version has the md format, otherwise
# a short verdict (the md format is optional; asking for it is an error where it is missing).
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
md_dir="$(mktemp -d)"
if [ -f "$out/results.json" ] \
  && "${mw[@]}" report "$out/results.json" --format md -o "$md_dir" -q 2>/dev/null \
  && compgen -G "$md_dir/*.md" > /dev/null; then
  cat "$md_dir"/*.md >> "$summary"
else
  case "$code" in
    0) verdict="the gate passed" ;;
    1) verdict="the gate failed: findings at or above the threshold (exit 1)" ;;
    2) verdict="the scan did not run: usage, config or input error (exit 2)" ;;
    *) verdict="the gate failed: a source failed or a check could not be evaluated (exit $code)" ;;
  esac
  {
    echo "### modelward"
    echo
    echo "modelward scan: $verdict."
    if [ -f "$out/results.json" ]; then
      echo
      echo "Results: \`$out/results.json\`; findings are in code scanning when SARIF is uploaded."
    fi
  } >> "$summary"
fi
rm -rf "$md_dir"
exit 0
