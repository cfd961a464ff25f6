/** The few DOM helpers the app needs; text goes in through textContent only, never as HTML. */

export function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element;
}

export function setStatus(text: string, error = false): void {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', error);
}

/** Shows one of the two screens. */
export function show(screen: 'signed-in' | 'signed-out'): void {
  $('signed-in').hidden = screen !== 'signed-in';
  $('signed-out').hidden = screen !== 'signed-out';
}

export function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

export function button(label: string, onClick: () => Promise<void>, className = ''): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.className = className;
  element.addEventListener('click', () => {
    element.disabled = true;
    onClick()
      .catch((error) => setStatus(`${label} failed: ${error instanceof Error ? error.message : String(error)}`, true))
      .finally(() => (element.disabled = false));
  });
  return element;
}

/** Runs `submit` with the form's fields; a failure goes to `failed`, the form is reset on success. */
export function form(
  id: string,
  submit: (fields: Map<string, string>) => Promise<void>,
  failed: (action: string, error: unknown) => void,
): void {
  const element = $(id) as HTMLFormElement;
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = new Map<string, string>();
    for (const [name, value] of new FormData(element)) if (typeof value === 'string') fields.set(name, value.trim() === '' ? '' : value);
    const submitButton = element.querySelector('button[type="submit"]') as HTMLButtonElement | null;
    if (submitButton) submitButton.disabled = true;
    submit(fields)
      .then(() => element.reset())
      .catch((error) => failed(submitButton?.textContent ?? 'Request', error))
      .finally(() => {
        if (submitButton) submitButton.disabled = false;
      });
  });
}
