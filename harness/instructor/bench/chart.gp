# gnuplot -e "datafile='chart.dat'; outfile='chart.svg'; ncols=4" chart.gp
#
# The bench's chart: median requests/s of each wrk case (rows of datafile),
# one bar per proxy (its columns; the first line names them). bench.py
# (report.chart) writes datafile and runs this.
set terminal svg size 800,420 dynamic font "sans,11" background rgb "white"
set output outfile
set title "Requests/s through each proxy (median; higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "requests/s"
set yrange [0:*]
set grid ytics
set key top right
set xtics nomirror
plot for [i=2:ncols+1] datafile using i:xtic(1) title columnheader(i)
