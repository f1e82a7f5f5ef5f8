# layer_head.gp — a per (layer, query head) map of one alignment metric (e.g. tail mass recall)
# averaged over examples, one panel per method. Driven by `dam plot`, which passes:
#   data   TSV: method_index head layer value   (one block per method)
#   names  method names;  nlayers, nheads;  metric (colour-bar label);  out;  ttl
set datafile separator "\t"
nmeth = words(names)
set xrange [-0.5:nheads-0.5]
set yrange [-0.5:nlayers-0.5]
set cbrange [0:1]
set palette defined (0 "#08306b", 0.5 "#6baed6", 1 "#f7fbff")
set xlabel "query head"
set ylabel "layer"
set cblabel metric noenhanced
unset key
# canvas width: the panels, but never narrower than the title (about 7 px per character at 10 pt)
cw = (300*nmeth+140)
if (strlen(ttl) * 7 + 60 > cw) { cw = strlen(ttl) * 7 + 60 }
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size cw,520 font ",10"; set output out.".png" }
    else { set terminal svg size cw,520 font ",10" dynamic; set output out.".svg" }
    set multiplot layout 1,nmeth title ttl noenhanced
    do for [i=0:nmeth-1] {
        set title word(names, i+1) noenhanced
        plot data index i using 2:3:(0.5):(0.5):4 with boxxyerror fillstyle solid noborder lc palette
    }
    unset multiplot
}
