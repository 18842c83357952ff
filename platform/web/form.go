package web

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
)

// CSRFField is the form field that carries the CSRF token; the CSRF middleware reads it.
const CSRFField = "_csrf"

// Form is what a form page needs to show again after a failed submit: what was typed and,
// per field, what is wrong. The key "" holds an error about the form as a whole.
type Form struct {
	Values map[string]string
	Errors map[string]string
}

// FormFrom keeps values and places the errors of err beside their fields: a
// fault.FieldError at "body.email" becomes Errors["email"]. A domain error without fields
// becomes the form's own error; any other error becomes the generic "form.failed" (handlers
// should pass errors that are not Fixable to the error handler instead). Messages are shown
// through the catalogue, so a slice may use message keys as field messages.
func FormFrom(err error, values map[string]string) Form {
	f := Form{Values: values, Errors: map[string]string{}}
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	if err == nil {
		return f
	}
	de := fault.As(err)
	switch {
	case de == nil || de.Kind == fault.Internal:
		f.Errors[""] = "form.failed"
	case len(de.Fields) == 0:
		f.Errors[""] = de.Message
	default:
		for _, fe := range de.Fields {
			name := FieldName(fe.Location)
			if _, seen := f.Errors[name]; !seen { // the first message per field is enough
				f.Errors[name] = fe.Message
			}
		}
	}
	return f
}

// FieldName maps an error location onto a form field name: "body.email" -> "email",
// "body.address.city" -> "address.city", "query.q" -> "q"; "body" alone is the whole form.
func FieldName(location string) string {
	for _, prefix := range []string{"body", "query", "path", "header", "form"} {
		if location == prefix {
			return ""
		}
		if rest, ok := strings.CutPrefix(location, prefix+"."); ok {
			return rest
		}
	}
	return location
}

// Fixable reports whether err is something the person filling the form can correct (a bad
// field, a conflict such as a taken name, a refused rule). Other errors go to the error
// handler rather than being shown in the form.
func Fixable(err error) bool {
	de := fault.As(err)
	if de == nil {
		return false
	}
	switch de.Kind {
	case fault.Invalid, fault.Conflict, fault.Unprocessable, fault.TooLarge:
		return true
	}
	return false
}

// Value is what to show in the field name.
func (f Form) Value(name string) string { return f.Values[name] }

// Error is the message to show beside the field name, "" when it is fine.
func (f Form) Error(name string) string { return f.Errors[name] }

// Invalid reports whether any error is set.
func (f Form) Invalid() bool { return len(f.Errors) > 0 }

// FormValues copies every posted field (url-encoded or multipart) into a map, first value
// per name. The strings are copied: Fiber reuses its buffers after the handler returns.
func FormValues(c *fiber.Ctx) map[string]string {
	out := map[string]string{}
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		for k, vs := range mf.Value {
			if len(vs) > 0 && k != CSRFField {
				out[strings.Clone(k)] = strings.Clone(vs[0])
			}
		}
		return out
	}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if _, seen := out[string(k)]; !seen && string(k) != CSRFField {
			out[string(k)] = string(v) // string([]byte) copies
		}
	})
	return out
}

// Option is one choice of a select field; Label is a catalogue key or text.
type Option struct {
	Value, Label string
}

// allowedFieldAttr lists the attributes a template may put on a field; anything else is a
// typo or an attempt to add behaviour (on* handlers, style) that the kit does not allow.
func allowedFieldAttr(k string) bool {
	switch k {
	case "type", "required", "autocomplete", "placeholder", "inputmode", "min", "max", "step",
		"minlength", "maxlength", "pattern", "rows", "readonly", "disabled", "autofocus", "accept",
		"multiple", "spellcheck", "autocapitalize", "size", "list", "hint", "dirname":
		return true
	}
	return false
}

// validFieldName accepts names such as "email", "address.city", "lines[0].qty".
func validFieldName(name string) bool {
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || strings.ContainsRune("_.[]-", r)):
		default:
			return false
		}
	}
	return name != ""
}

type fieldSpec struct {
	name, id, label, hint, typ string
	attrs                      map[string]string // rendered in sorted order
	required                   bool
}

// parseField reads the attribute list of a field call: "type=email", "required", "hint=key".
func parseField(name, label string, attrs []string) (fieldSpec, error) {
	if !validFieldName(name) {
		return fieldSpec{}, fmt.Errorf("field %q: the name must be letters, digits, _ . - [ ]", name)
	}
	s := fieldSpec{name: name, id: fieldID(name), label: label, typ: "text", attrs: map[string]string{}}
	for _, a := range attrs {
		k, v, hasValue := strings.Cut(a, "=")
		if !allowedFieldAttr(k) {
			return fieldSpec{}, fmt.Errorf("field %q: attribute %q is not allowed", name, k)
		}
		switch {
		case k == "type":
			s.typ = v
		case k == "hint":
			s.hint = v
		case k == "required":
			s.required = true
		case hasValue:
			s.attrs[k] = v
		default:
			s.attrs[k] = ""
		}
	}
	return s, nil
}

// fieldID makes an element id from a field name ("address.city" -> "f-address-city").
func fieldID(name string) string {
	r := strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-")
	return "f-" + r.Replace(name)
}

// fieldHTML renders a labelled control with its hint and error, wired for assistive
// technology: <label for>, aria-invalid and aria-describedby pointing at hint and error.
func (fs *funcSet) fieldHTML(f Form, s fieldSpec, control func(b *strings.Builder, common string)) template.HTML {
	errMsg := f.Errors[s.name]
	var describedBy []string
	if s.hint != "" {
		describedBy = append(describedBy, s.id+"-hint")
	}
	if errMsg != "" {
		describedBy = append(describedBy, s.id+"-error")
	}
	var common strings.Builder
	fmt.Fprintf(&common, ` id="%s" name="%s"`, esc(s.id), esc(s.name))
	if s.required {
		common.WriteString(` required`)
	}
	if errMsg != "" {
		common.WriteString(` aria-invalid="true"`)
	}
	if len(describedBy) > 0 {
		fmt.Fprintf(&common, ` aria-describedby="%s"`, esc(strings.Join(describedBy, " ")))
	}
	keys := make([]string, 0, len(s.attrs))
	for k := range s.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := s.attrs[k]; v == "" {
			fmt.Fprintf(&common, ` %s`, k)
		} else {
			if k == "placeholder" {
				v = fs.t(v)
			}
			fmt.Fprintf(&common, ` %s="%s"`, k, esc(v))
		}
	}

	var b strings.Builder
	class := "field"
	if s.typ == "checkbox" {
		class += " field-check"
	}
	if errMsg != "" {
		class += " field-invalid"
	}
	fmt.Fprintf(&b, `<div class="%s">`, class)
	label := func() {
		fmt.Fprintf(&b, `<label for="%s">%s`, esc(s.id), esc(fs.t(s.label)))
		if s.required {
			b.WriteString(`<span class="required" aria-hidden="true">*</span>`)
		}
		b.WriteString(`</label>`)
	}
	if s.typ == "checkbox" {
		control(&b, common.String())
		label()
	} else {
		label()
	}
	if s.hint != "" {
		fmt.Fprintf(&b, `<p class="hint" id="%s-hint">%s</p>`, esc(s.id), esc(fs.t(s.hint)))
	}
	if s.typ != "checkbox" {
		control(&b, common.String())
	}
	if errMsg != "" {
		fmt.Fprintf(&b, `<p class="field-error" id="%s-error"><span class="visually-hidden">%s </span>%s</p>`,
			esc(s.id), esc(fs.t("form.error_prefix")), esc(fs.t(errMsg)))
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String()) // every interpolated value above is escaped
}

// field renders an input or textarea bound to the form's value and error:
//
//	{{field .Data.Form "email" "auth.email" "type=email" "required" "autocomplete=email"}}
//
// Passwords are never echoed back into the page.
func (fs *funcSet) field(f Form, name, label string, attrs ...string) (template.HTML, error) {
	s, err := parseField(name, label, attrs)
	if err != nil {
		return "", err
	}
	value := f.Values[name]
	switch s.typ {
	case "textarea":
		return fs.fieldHTML(f, s, func(b *strings.Builder, common string) {
			fmt.Fprintf(b, `<textarea%s>%s</textarea>`, common, esc(value))
		}), nil
	case "checkbox":
		return fs.fieldHTML(f, s, func(b *strings.Builder, common string) {
			checked := ""
			switch strings.ToLower(value) {
			case "on", "true", "1", "yes":
				checked = " checked"
			}
			fmt.Fprintf(b, `<input type="checkbox" value="on"%s%s>`, common, checked)
		}), nil
	case "text", "email", "password", "number", "tel", "url", "search", "date", "datetime-local", "time", "file", "color", "month":
		if s.typ == "password" || s.typ == "file" {
			value = ""
		}
		return fs.fieldHTML(f, s, func(b *strings.Builder, common string) {
			fmt.Fprintf(b, `<input type="%s"%s`, s.typ, common)
			if value != "" {
				fmt.Fprintf(b, ` value="%s"`, esc(value))
			}
			b.WriteString(`>`)
		}), nil
	}
	return "", fmt.Errorf("field %q: type %q is not supported (use selectfield for a select)", name, s.typ)
}

// selectField renders a labelled select whose chosen option is the form's value.
func (fs *funcSet) selectField(f Form, name, label string, options []Option, attrs ...string) (template.HTML, error) {
	s, err := parseField(name, label, attrs)
	if err != nil {
		return "", err
	}
	value := f.Values[name]
	return fs.fieldHTML(f, s, func(b *strings.Builder, common string) {
		fmt.Fprintf(b, `<select%s>`, common)
		for _, o := range options {
			sel := ""
			if o.Value == value {
				sel = " selected"
			}
			fmt.Fprintf(b, `<option value="%s"%s>%s</option>`, esc(o.Value), sel, esc(fs.t(o.Label)))
		}
		b.WriteString(`</select>`)
	}), nil
}

// formErrors renders the summary at the top of a failed form: the form-level error, or a
// note that fields below need attention, with a link to the first one. The script focuses
// it on load so a screen reader announces it.
func (fs *funcSet) formErrors(f Form) template.HTML {
	if !f.Invalid() {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<div class="form-summary" role="alert" tabindex="-1">`)
	if msg := f.Errors[""]; msg != "" {
		fmt.Fprintf(&b, `<p>%s</p>`, esc(fs.t(msg)))
	}
	names := make([]string, 0, len(f.Errors))
	for n := range f.Errors {
		if n != "" {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		fmt.Fprintf(&b, `<p>%s</p><ul>`, esc(fs.tn("form.errors_summary", int64(len(names)))))
		for _, n := range names {
			fmt.Fprintf(&b, `<li><a href="#%s">%s</a></li>`, esc(fieldID(n)), esc(fs.t(f.Errors[n])))
		}
		b.WriteString(`</ul>`)
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String()) // escaped above
}

func esc(s string) string { return html.EscapeString(s) }
