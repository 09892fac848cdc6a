#!/bin/sh
# Builds the seed corpus, fuzz/corpus/<target>/, from the bundled scenarios and traces and a few
# unit strings. Trace seeds start with the byte that picks the reading options (see each target)
# and keep the first 40 lines of a file: short inputs fuzz faster.
set -eu
cd "$(dirname "$0")"
root=..
corpus=corpus
mkdir -p "$corpus/scenario" "$corpus/units" "$corpus/request_trace" "$corpus/spot_trace"

# Scenario and study files, named after their path.
find "$root/scenarios" -name '*.ron' | sort | while read -r file; do
    name=$(echo "${file#"$root"/}" | tr '/' '_')
    cp "$file" "$corpus/scenario/$name"
done

# Unit strings, one per file.
i=0
for text in "12ms" "1h 30m" "2d12h" "90s" "1.5h" "250us" "20/s" "12/h" "0.5/day" "900/min" \
    "80GB" "1.5TiB" "512MiB" "0 B" "18446744073709551615B" "10Gbps" "1.25GB/s" "3.20 USD/h" \
    "60 USD/day" "1000 USD/month" "0.08 USD/GB" "0.02 USD/GiB" "300000 USD" "1.2kW" "700W" \
    "0.15 USD/kWh" "120 USD/MWh" ".5GiB" "0.0009765625KiB"; do
    printf '%s' "$text" > "$corpus/units/seed-$i"
    i=$((i + 1))
done

# Request traces: option byte 0 reads the Azure LLM layout; byte 1 reads csv(time_column: "t",
# context_column: "in") in seconds.
for file in "$root"/scenarios/traces/*/*.csv; do
    name=$(basename "$file" .csv)
    { printf '\000'; head -n 40 "$file"; } > "$corpus/request_trace/$name"
done
printf '\001t,in\n0,10\n0.5,20\n1.25,5\n' > "$corpus/request_trace/generic-seconds"

# Spot availability traces: option byte 0 reads the Can't Be Late layout; byte 9 reads counts of
# available instances, with the step length given (a bare list).
for file in "$root"/tests/fixtures/*.json; do
    { printf '\000'; cat "$file"; } > "$corpus/spot_trace/$(basename "$file" .json)"
done
printf '\011[0, 2, 2, 1, 0, 4]' > "$corpus/spot_trace/bare-counts"
