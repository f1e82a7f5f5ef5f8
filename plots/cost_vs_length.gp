# cost_vs_length.gp — latency and memory against prompt length on log-log axes, four panels
# (median prefill ms, median decode ms/token, median peak MiB, median KV-cache MiB), one line per
# method in the same colour in every panel; on the prefill panel each method's speed-up crossover
# (the first length where its median prefill falls below full's) is circled and labelled.
# Driven by `dam plot`, which passes:
#   data    TSV: method_index length prefill_ms decode_ms peak_MiB kv_MiB n  (one block per method;
#           NaN where a value is 0 and cannot go on a log axis)
#   names   space-separated method names (block order)
#   cross   space-separated triples "method_index length prefill_ms", one per crossing method
#   hasfull 1 if the run has a `full` method (else there is no crossover to look for)
#   has     four 0/1 flags: whether the prefill / decode / peak / KV column holds any positive value
#           (a panel without one, e.g. decode when every generation stopped after its first token,
#           is drawn empty with a note instead of failing on a log axis with no point)
#   out     output path without extension (writes .png and .svg);  ttl  title
set datafile separator "\t"
set datafile missing "nan"
nmeth = words(names)
ncross = words(cross) / 3
set logscale x 2
# x: the lengths of all panels, 8 % of the log span beyond them (an octave either side for one
# length); fixed, not autoscaled per panel: a panel with values at one length only (decode, when the
# other lengths' generations stopped at their first token) would have an empty x range
stats data using 2 nooutput
xpad = STATS_min == STATS_max ? 2.0 : (STATS_max / STATS_min) ** 0.08
set xrange [STATS_min / xpad:STATS_max * xpad]
# a panel whose values are all equal (one method at one length, or equal memory): a decade either
# side, for the same reason (YLO[k], YHI[k]: panel k = 1-4, columns 3-6, set before its plot)
array YLO[4]
array YHI[4]
do for [k=1:4] {
    YLO[k] = 1
    YHI[k] = 2
    if (int(word(has, k))) {
        stats data using (column(k + 2) > 0 ? column(k + 2) : NaN) nooutput
        YLO[k] = STATS_min
        YHI[k] = STATS_max
    }
}
set logscale y 10
set grid xtics ytics mytics
set format y "%g"
# y: whole decades (autoscale to the next decade), so every panel has labelled tics; tightening
# the range to the data leaves a log axis within one decade without any tic label
set style data linespoints
# colour, point type, size and dash of method i (0-based) in every panel: the first method (full)
# filled and solid, later ones open markers, smaller, dashed, so that methods with equal values
# (memory, often) stay visible on top of each other
mc(i) = i + 1
mp(i) = int(word("7 4 8 10 12 14", i % 6 + 1))
ms(i) = 1.6 - 0.25 * (i % 4)
md(i) = i % 4 + 1
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1200,860 font ",10"; set output out.".png" }
    else { set terminal svg size 1200,860 font ",10" dynamic; set output out.".svg" }
    set multiplot layout 2,2 title ttl noenhanced
    set xlabel "prompt length (tokens)"

    set title "prefill time (time to first token, incl. mask building)"
    set ylabel "prefill (ms, median)"
    if (YLO[1] == YHI[1]) { set yrange [YLO[1] / 10.0:YHI[1] * 10.0] } else { set autoscale y }
    set key top left box opaque noenhanced
    unset label
    if (!hasfull) {
        set label 1 "no full method: no crossover" at graph 0.98, graph 0.06 right
    } else {
        if (ncross == 0) {
            set label 1 "no crossover: no method's prefill falls below full's at these lengths" at graph 0.98, graph 0.06 right
        } else {
            do for [c=1:ncross] {
                k = int(word(cross, 3*c-2))
                set label c+1 sprintf("%s prefill below full from %s tokens", word(names, k+1), word(cross, 3*c-1)) \
                    at graph 0.98, graph 0.02 + 0.06*c right tc lt mc(k) noenhanced
            }
        }
    }
    if (!int(word(has, 1))) {
        set label 10 "no positive prefill time to draw" at graph 0.5, graph 0.5 center
        plot [1:2] [1:10] NaN notitle
        unset label 10
    } else { if (ncross > 0) {
        plot for [i=0:nmeth-1] data index i using 2:3 title word(names, i+1) lw 2 dt md(i) pt mp(i) ps ms(i) lc mc(i), \
             for [c=1:ncross] '+' using (real(word(cross, 3*c-1))):(real(word(cross, 3*c))) every ::0::0 \
                 with points pt 6 ps 3.5 lw 2 lc mc(int(word(cross, 3*c-2))) notitle
    } else {
        plot for [i=0:nmeth-1] data index i using 2:3 title word(names, i+1) lw 2 dt md(i) pt mp(i) ps ms(i) lc mc(i)
    } }
    unset label
    unset key

    set title "decode time per generated token"
    set ylabel "decode (ms/token, median)"
    if (YLO[2] == YHI[2]) { set yrange [YLO[2] / 10.0:YHI[2] * 10.0] } else { set autoscale y }
    if (int(word(has, 2))) {
        plot for [i=0:nmeth-1] data index i using 2:4 title word(names, i+1) lw 2 dt md(i) pt mp(i) ps ms(i) lc mc(i)
    } else {
        set label 10 "no decode time: every generation stopped after its first token" at graph 0.5, graph 0.5 center
        plot [1:2] [1:10] NaN notitle
        unset label 10
    }

    set title "peak memory (weights + the example's high-water mark)"
    set ylabel "peak memory (MiB, median)"
    if (YLO[3] == YHI[3]) { set yrange [YLO[3] / 10.0:YHI[3] * 10.0] } else { set autoscale y }
    if (int(word(has, 3))) {
        plot for [i=0:nmeth-1] data index i using 2:5 title word(names, i+1) lw 2 dt md(i) pt mp(i) ps ms(i) lc mc(i)
    } else {
        set label 10 "no peak memory recorded" at graph 0.5, graph 0.5 center
        plot [1:2] [1:10] NaN notitle
        unset label 10
    }

    set title "KV cache held by the method (fp32 K and V, all layers)"
    set ylabel "KV cache (MiB, median)"
    if (YLO[4] == YHI[4]) { set yrange [YLO[4] / 10.0:YHI[4] * 10.0] } else { set autoscale y }
    if (int(word(has, 4))) {
        plot for [i=0:nmeth-1] data index i using 2:6 title word(names, i+1) lw 2 dt md(i) pt mp(i) ps ms(i) lc mc(i)
    } else {
        set label 10 "no KV-cache size recorded" at graph 0.5, graph 0.5 center
        plot [1:2] [1:10] NaN notitle
        unset label 10
    }
    unset multiplot
}
