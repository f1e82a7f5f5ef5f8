# accuracy_vs_length.gp — accuracy (mean score) against prompt length, one line per method, with
# Wilson 95% intervals as error bars. Driven by `dam plot`, which passes:
#   data   TSV: method_index length accuracy lo hi n   (one block per method, blank-line separated)
#   names  space-separated method names (block order)
#   out    output path without extension; writes out.png and out.svg
#   ttl    title
set datafile separator "\t"
set key bottom left box opaque
set grid
set logscale x 2
# one length only: an explicit octave either side (autoscaling an empty x range makes gnuplot warn)
stats data using 2 nooutput
if (STATS_min == STATS_max) { set xrange [STATS_min / 2.0:STATS_max * 2.0] }
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "prompt length (tokens)"
set ylabel "accuracy (mean score)"
set yrange [-0.05:1.05]
set title ttl noenhanced
set style data yerrorlines
set bars 2
nmeth = words(names)
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 900,560 font ",11"; set output out.".png" }
    else { set terminal svg size 900,560 font ",11" dynamic; set output out.".svg" }
    # methods are nudged apart in x (a few % on the log axis) so their intervals do not overlap
    plot for [i=0:nmeth-1] data index i using ($2*2**(0.06*(i-(nmeth-1)/2.0))):3:4:5 \
         title word(names, i+1) noenhanced lw 2 pt 7 ps 1.2
}
