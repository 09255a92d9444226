/**
 * The rich listing's inline script: local times, the filter box, keyboard shortcuts and (when the page has an
 * upload section, i.e. `upload` is on) uploads by file picker or drop, one `PUT` per file with a progress bar.
 * Everything it needs it reads from the page, so the text is a constant and the `Content-Security-Policy` allows it
 * by hash. Names are only ever set as `textContent`, never parsed as markup. Without script the page still lists,
 * links and sorts.
 */
export const SCRIPT = `
(function () {
  'use strict';
  var $ = function (s, r) { return (r || document).querySelector(s); };
  var $$ = function (s, r) { return Array.prototype.slice.call((r || document).querySelectorAll(s)); };
  var filter = $('#filter');
  var shown = $('#shown');

  function localTimes(root) {
    $$('time[datetime]', root).forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d.getTime())) t.textContent = d.toLocaleString();
    });
    var head = $('th.time a');
    if (head) head.textContent = 'Modified';
  }

  function rows() { return $$('#entries tr'); }

  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var all = rows(), visible = 0;
    all.forEach(function (tr) {
      var a = $('td.name a', tr);
      var hit = q === '' || (a !== null && a.textContent.toLowerCase().indexOf(q) >= 0);
      tr.hidden = !hit;
      if (hit) visible++;
    });
    shown.textContent = q === '' ? '' : ' \\u2014 ' + visible + ' of ' + all.length + ' shown';
    return visible;
  }

  localTimes(document);
  filter.hidden = false;
  filter.addEventListener('input', applyFilter);
  filter.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { filter.value = ''; applyFilter(); }
    else if (e.key === 'Enter') {
      var visible = rows().filter(function (tr) { return !tr.hidden; });
      if (visible.length === 1) { var a = $('td.name a', visible[0]); if (a) a.click(); }
    }
  });
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    var typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); filter.focus(); }
  });
  if (filter.value !== '') applyFilter();

  var section = $('#upload');
  if (!section) return;
  var input = $('#files'), drop = $('#drop'), list = $('#progress');
  section.hidden = false;

  function refresh() {
    return fetch(location.href, { headers: { Accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(r.status)); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        ['#entries', '#summary', '#empty'].forEach(function (id) {
          var fresh = $(id, doc), old = $(id);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        });
        localTimes(document);
        applyFilter();
        document.body.setAttribute('data-refreshed', String(Date.now()));
      })
      .catch(function () { location.reload(); });
  }

  function send(file) {
    var li = document.createElement('li');
    var name = document.createElement('span');
    var state = document.createElement('span');
    var bar = document.createElement('progress');
    name.className = 'fname';
    name.textContent = file.name;
    state.className = 'state';
    state.textContent = 'waiting';
    bar.max = 1;
    bar.value = 0;
    li.appendChild(name); li.appendChild(state); li.appendChild(bar);
    list.appendChild(li);
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      function done(text, ok) {
        state.textContent = text;
        state.className = 'state ' + (ok ? 'ok' : 'bad');
        li.setAttribute('data-result', ok ? 'ok' : 'refused');
        resolve();
      }
      xhr.open('PUT', encodeURIComponent(file.name));
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable && e.total > 0) {
          bar.value = e.loaded / e.total;
          state.textContent = Math.floor(100 * e.loaded / e.total) + ' %';
        }
      };
      xhr.onload = function () {
        bar.value = 1;
        if (xhr.status === 201) done('created', true);
        else if (xhr.status === 204) done('replaced', true);
        else done('refused: ' + xhr.status + ' ' + xhr.statusText, false);
      };
      xhr.onerror = function () { done('failed (connection closed)', false); };
      state.textContent = '0 %';
      xhr.send(file);
    });
  }

  function upload(files) {
    var all = Array.prototype.slice.call(files);
    if (all.length === 0) return;
    section.setAttribute('data-busy', 'true');
    Promise.all(all.map(send)).then(refresh).then(function () {
      section.removeAttribute('data-busy');
      input.value = '';
    });
  }

  input.addEventListener('change', function () { upload(input.files); });
  ['dragenter', 'dragover'].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0) {
        e.preventDefault();
        drop.classList.add('over');
      }
    });
  });
  ['dragleave', 'dragend'].forEach(function (type) {
    document.addEventListener(type, function () { drop.classList.remove('over'); });
  });
  document.addEventListener('drop', function (e) {
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    drop.classList.remove('over');
    upload(e.dataTransfer.files);
  });
})();
`
