// Cachet TS dashboard: progressive enhancement only. Every page works without it, and the server
// checks everything this script checks.
'use strict';
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  const text = source.tagName === 'UL' ? [...source.querySelectorAll('li')].map((li) => li.textContent.trim()).join('\n') : source.textContent.trim();
  navigator.clipboard.writeText(text).then(
    () => { button.textContent = 'Copied'; },
    () => { button.textContent = 'Copy failed: select the text and copy it'; },
  );
});

/** A form with data-require-one="NAME" cannot be sent with no NAME checkbox checked; `*` needs its confirmation. */
function missingChoice(form) {
  const name = form.dataset.requireOne;
  if (!name) return null;
  const boxes = [...form.querySelectorAll(`input[type="checkbox"][name="${name}"]`)];
  if (!boxes.some((box) => box.checked)) return [boxes[0], 'Choose at least one scope.'];
  const all = boxes.find((box) => box.value === '*');
  const confirm = form.querySelector('input[name="confirm_all"]');
  if (all && all.checked && confirm && !confirm.checked) return [confirm, 'Full access needs this confirmation.'];
  return null;
}

document.addEventListener('change', (event) => {
  if (event.target instanceof HTMLInputElement && event.target.type === 'checkbox') event.target.setCustomValidity('');
});

// A form with data-confirm asks before it is sent (the server asks for its own confirmation field too).
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const missing = missingChoice(form);
  if (missing && missing[0]) {
    event.preventDefault();
    missing[0].setCustomValidity(missing[1]);
    missing[0].reportValidity();
    return;
  }
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
