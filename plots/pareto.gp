# pareto.gp — accuracy against mean density, one point per method instance (e.g. a τ sweep of
# dam), Wilson 95% intervals as error bars, each point labelled with its name (rotated so that
# neighbouring names do not overlap). Driven by
# `dam plot`, which passes:
#   data   TSV: name density accuracy lo hi n
#   out    output path without extension (writes .png and .svg);  ttl  title
set datafile separator "\t"
set key off
set grid
set logscale x 10
# x: the densities' range with room beyond the extreme points (full sits at density 1, on the right
# border otherwise), never past 1.5 (a density is at most 1); all points at one density (one method,
# or full with full_eager): half a decade to the left of it (an empty autoscaled range makes gnuplot
# warn and spreads the axis to 10)
stats data using 2 nooutput
xlo = STATS_min == STATS_max ? STATS_min / 10 ** 0.5 : STATS_min / (STATS_max / STATS_min) ** 0.04
xhi = STATS_min == STATS_max ? STATS_max * 1.5 : STATS_max * (STATS_max / STATS_min) ** 0.08
set xrange [xlo:(xhi < 1.5 ? xhi : 1.5)]
set xlabel "mean density (kept causal pairs / causal pairs)"
set ylabel "accuracy (mean score)"
set yrange [-0.05:1.1]
set title ttl noenhanced
set bars 2
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 900,560 font ",11"; set output out.".png" }
    else { set terminal svg size 900,560 font ",11" dynamic; set output out.".svg" }
    plot data using 2:3:4:5 with yerrorbars lw 2 pt 7 ps 1.3 lc rgb "#1f78b4", \
         data using 2:3:1 with labels left rotate by 40 offset char 0.7,0.7 font ",9" noenhanced
}
