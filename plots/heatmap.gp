# heatmap.gp — a grid of mean scores (prompt length × needle depth), one panel per method, in the
# style of NIAH heat maps. Driven by `dam plot`, which passes:
#   data   TSV: method_index x_index y_index score   (blank-line separated rows, one block per method)
#   names  space-separated method names (block order)
#   xlabels / ylabels  space-separated tick labels (lengths in tokens / depths in %)
#   out    output path without extension (writes .png and .svg);  ttl  title
set datafile separator "\t"
nmeth = words(names)
nx = words(xlabels)
ny = words(ylabels)
set cbrange [0:1]
set palette defined (0 "#b2182b", 0.5 "#f7f7b0", 1 "#1a9850")
set xrange [-0.5:nx-0.5]
set yrange [-0.5:ny-0.5]
set xtics () ; set ytics ()
do for [i=1:nx] { set xtics add (word(xlabels, i) i-1) }
do for [i=1:ny] { set ytics add (word(ylabels, i) i-1) }
set xlabel "prompt length (tokens)"
set ylabel "depth (%)"
set cblabel "score"
unset key
# canvas width: the panels, but never narrower than the title (about 7 px per character at 10 pt)
cw = (360*nmeth+120)
if (strlen(ttl) * 7 + 60 > cw) { cw = strlen(ttl) * 7 + 60 }
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size cw,420 font ",10"; set output out.".png" }
    else { set terminal svg size cw,420 font ",10" dynamic; set output out.".svg" }
    set multiplot layout 1,nmeth title ttl noenhanced
    do for [i=0:nmeth-1] {
        set title word(names, i+1) noenhanced
        plot data index i using 2:3:(0.5):(0.5):4 with boxxyerror fillstyle solid noborder lc palette, \
             data index i using 2:3:(sprintf("%.2f", $4)) with labels font ",9"
    }
    unset multiplot
}
