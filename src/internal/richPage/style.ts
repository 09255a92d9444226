/**
 * The rich listing's style sheet: system fonts, light and dark colours (`prefers-color-scheme`), a table that
 * fits a 390 px wide phone (long names wrap, the time column gives way), visible keyboard focus. Served inline and
 * allowed by its hash in the page's `Content-Security-Policy`, so it must stay a constant.
 */
export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--accent:#0969da;--hover:#f6f8fa;--dir:#1a7f37;--bad:#cf222e;--good:#1a7f37}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--accent:#4493f8;--hover:#151b23;--dir:#3fb950;--bad:#f85149;--good:#3fb950}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0 auto;max-width:64rem;padding:1rem;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
a:focus-visible,input:focus-visible,.drop:focus-within{outline:2px solid var(--accent);outline-offset:2px;border-radius:3px}
h1{font-size:1.2rem;font-weight:600;margin:0 0 .75rem;overflow-wrap:anywhere}
h1 .lead{color:var(--muted);font-weight:400}
h1 nav{display:inline}
.sprite{position:absolute;width:0;height:0;overflow:hidden}
h1 .sep{color:var(--muted);padding:0 .1rem}
.bar{display:flex;flex-wrap:wrap;gap:.5rem .75rem;align-items:center;margin:0 0 .5rem}
.bar input{flex:1 1 12rem;min-width:0;padding:.4rem .6rem;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:6px}
.bar .links{display:flex;gap:.75rem;font-size:.9rem}
.summary{color:var(--muted);font-size:.875rem;margin:.25rem 0 .5rem}
table{width:100%;border-collapse:collapse;table-layout:fixed}
th,td{padding:.4rem .5rem;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;font-size:.85rem;color:var(--muted);white-space:nowrap}
th .mark{font-size:.7rem}
td.name a{display:flex;gap:.5rem;align-items:flex-start;overflow-wrap:anywhere;min-width:0}
td.name span{min-width:0}
.size{text-align:right;width:6.5rem;white-space:nowrap;font-variant-numeric:tabular-nums}
.time{width:11.5rem;white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}
tbody tr:hover{background:var(--hover)}
tr[hidden]{display:none}
svg.icon{width:1.15em;height:1.15em;flex:none;margin-top:.15em;fill:none;stroke:var(--muted);stroke-width:1.8;stroke-linecap:round;stroke-linejoin:round}
tr.dir svg.icon{stroke:var(--dir)}
.empty{color:var(--muted);font-style:italic}
#upload{margin:1rem 0}
.drop{display:block;border:2px dashed var(--line);border-radius:8px;padding:1rem;text-align:center;color:var(--muted)}
.drop.over{border-color:var(--accent);background:var(--hover)}
.drop input{display:block;margin:.5rem auto 0;max-width:100%}
#progress{list-style:none;padding:0;margin:.5rem 0 0}
#progress li{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:.1rem .75rem;padding:.3rem 0;border-bottom:1px solid var(--line)}
#progress .fname{overflow-wrap:anywhere}
#progress progress{grid-column:1/-1;width:100%;height:.5rem}
#progress .ok{color:var(--good)}
#progress .bad{color:var(--bad)}
footer{margin-top:1rem;color:var(--muted);font-size:.8rem}
@media (max-width:40rem){body{padding:.75rem}.time{display:none}.size{width:5.5rem}th,td{padding:.4rem .3rem}}
`
