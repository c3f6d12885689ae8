"""Official documents a bureau can sign and circulate: the monthly 通报, phase and campaign
summaries, the typical-case digest, laid out by GB/T 9704-2012 (`gongwen`), with Word and PDF
(`pdf`). Content modules arrange the presentation layer's texts; they never count, judge or
format a number themselves."""
