package api

import (
	"bytes"
	_ "embed"
	"html/template"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
)

//go:embed docs.html.tmpl
var docsTemplate string

type docOperation struct {
	Method, Path, ID, Summary, Description string
	Params                                 []docField
	Body                                   []docField
	Responses                              []docResponse
}

type docField struct{ Name, In, Type, Doc string }

type docResponse struct {
	Status, Description string
	Fields              []docField
}

type docTag struct {
	Name string
	Ops  []docOperation
}

// docsPage renders the API reference from the OpenAPI document once, at start: the page is
// plain HTML, so it works offline and loads nothing from elsewhere.
func docsPage(api openAPI) fiber.Handler {
	tmpl := template.Must(template.New("docs").Parse(docsTemplate))
	spec := api.OpenAPI()
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]any{
		"Title": spec.Info.Title, "Version": spec.Info.Version, "Description": spec.Info.Description,
		"Tags": docTags(spec),
	}); err != nil {
		panic("render API docs: " + err.Error()) // the template is embedded: a failure is a build bug
	}
	page := buf.Bytes()
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(page)
	}
}

func docTags(spec *huma.OpenAPI) []docTag {
	byTag := map[string][]docOperation{}
	for path, item := range spec.Paths {
		for method, op := range map[string]*huma.Operation{
			"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete,
		} {
			if op == nil {
				continue
			}
			d := docOperation{Method: method, Path: path, ID: op.OperationID, Summary: op.Summary, Description: op.Description}
			for _, p := range op.Parameters {
				d.Params = append(d.Params, docField{Name: p.Name, In: p.In, Type: typeOf(spec, p.Schema), Doc: p.Description})
			}
			if op.RequestBody != nil {
				if mt := op.RequestBody.Content["application/json"]; mt != nil {
					d.Body = fieldsOf(spec, mt.Schema)
				}
			}
			for status, r := range op.Responses {
				dr := docResponse{Status: status, Description: r.Description}
				for ct, mt := range r.Content {
					if strings.Contains(ct, "json") && !strings.Contains(ct, "problem") {
						dr.Fields = fieldsOf(spec, mt.Schema)
					}
				}
				d.Responses = append(d.Responses, dr)
			}
			sort.Slice(d.Responses, func(i, j int) bool { return d.Responses[i].Status < d.Responses[j].Status })
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			byTag[tag] = append(byTag[tag], d)
		}
	}
	tags := make([]docTag, 0, len(byTag))
	for name, ops := range byTag {
		sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
		tags = append(tags, docTag{Name: name, Ops: ops})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Name < tags[j].Name })
	return tags
}

func resolve(spec *huma.OpenAPI, s *huma.Schema) *huma.Schema {
	if s != nil && s.Ref != "" {
		return spec.Components.Schemas.SchemaFromRef(s.Ref)
	}
	return s
}

func fieldsOf(spec *huma.OpenAPI, s *huma.Schema) []docField {
	s = resolve(spec, s)
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]docField, 0, len(names))
	for _, n := range names {
		p := s.Properties[n]
		out = append(out, docField{Name: n, Type: typeOf(spec, p), Doc: resolve(spec, p).Description})
	}
	return out
}

func typeOf(spec *huma.OpenAPI, s *huma.Schema) string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return s.Ref[strings.LastIndex(s.Ref, "/")+1:]
	}
	if s.Type == "array" && s.Items != nil {
		return "array of " + typeOf(spec, s.Items)
	}
	t := s.Type
	if len(s.Enum) > 0 {
		var vs []string
		for _, e := range s.Enum {
			if v, ok := e.(string); ok {
				vs = append(vs, v)
			}
		}
		t += " (" + strings.Join(vs, ", ") + ")"
	}
	return t
}
