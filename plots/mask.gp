# mask.gp — a DAM mask as an image: the L x L true mask (calibrated or re-derived) beside the extended mask at a
# prompt length n (each pixel = the fraction of kept causal pairs in its cell of keys x queries).
# Driven by `dam plot` (results file or --patterns), which passes:
#   truem  matrix file of the true mask (rows = queries, columns = keys), L x L
#   ext    matrix file of the extended mask, binned to at most 512 x 512
#   L, n, bin (tokens per pixel of ext);  out (no extension, writes .png and .svg);  ttl
set palette defined (0 "white", 0.001 "#c6dbef", 1 "#08306b")
set cbrange [0:1]
set size ratio -1
unset key
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1200,600 font ",10"; set output out.".png" }
    else { set terminal svg size 1200,600 font ",10" dynamic; set output out.".svg" }
    set multiplot layout 1,2 title ttl noenhanced
    set title sprintf("true mask (%d x %d, PCL of the head)", L, L)
    set xlabel "key position"
    set ylabel "query position"
    set xrange [-0.5:L-0.5]
    set yrange [L-0.5:-0.5]
    plot truem matrix with image
    set title sprintf("extended mask at n = %d (%d tokens per pixel, fraction kept)", n, bin)
    set xlabel "key position / bin"
    set ylabel "query position / bin"
    # back to autoscaling (the true mask's fixed ranges would otherwise crop the image to L x L)
    set xrange [*:*] noreverse
    set yrange [*:*] reverse
    set autoscale xfix
    set autoscale yfix
    plot ext matrix with image
    unset multiplot
}
