/**
 * The pages' one stylesheet, served from the server (the CSP allows styles from 'self' only, and
 * no inline style). Kept in a module so that the build ships it without copying files.
 * Operators restyle the pages by putting their own stylesheet in front of this path.
 */
export const PAGES_STYLESHEET = `
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 100%; color: #1b1b1b; background: #f4f5f7; }
body { margin: 0; line-height: 1.5; }
.page { max-width: 28rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid #d0d4da; border-radius: 6px; }
h1 { font-size: 1.6rem; margin: 0 0 1.25rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
.field { margin-bottom: 1.25rem; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .5rem; font: inherit; border: 2px solid #505a64; border-radius: 3px; }
.field-error input { border-color: #b3261e; }
.error-message { color: #b3261e; font-weight: 600; margin: 0 0 .25rem; }
.error-summary { border: 4px solid #b3261e; padding: 1rem; margin-bottom: 1.5rem; }
.error-summary ul { margin: 0; padding-left: 1.25rem; }
.error-summary a { color: #b3261e; font-weight: 600; }
button { font: inherit; font-weight: 600; padding: .5rem 1.25rem; color: #fff; background: #1a5fb4; border: 2px solid #1a5fb4; border-radius: 3px; cursor: pointer; }
button:hover { background: #154c91; }
button.secondary { color: #1a5fb4; background: transparent; margin-left: .5rem; }
button.secondary:hover { background: #e8eef7; }
.client-logo { border-radius: 6px; }
.redirect-host { word-break: break-all; }
a { color: #1a5fb4; }
:focus-visible { outline: 3px solid #f2b600; outline-offset: 2px; box-shadow: 0 0 0 6px #1b1b1b; }
.error-summary:focus { outline: 3px solid #f2b600; outline-offset: 2px; }
@media (prefers-color-scheme: dark) {
  html { color: #eceff1; background: #121416; }
  .page { background: #1e2226; border-color: #3a4148; }
  input[type=text], input[type=password] { background: #121416; color: inherit; border-color: #9aa4ad; }
  a, .error-summary a { color: #8ab4f8; }
}
`;
